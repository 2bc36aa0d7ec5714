"""OpenAPI descriptions of Shopfloor's own authentication schemes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tracker.api.authentication.ApiKeyAuthentication"
    name = "partnerKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Partner API key: `Authorization: Bearer sfk_…` (or the `X-API-Key` header).",
        }

"""OpenAPI description of the device key scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "devices.api.authentication.DeviceKeyAuthentication"
    name = "deviceKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Device key: `Authorization: Bearer sfd_…`, HTTP Basic (device id, key), the `X-API-Key` "
            "header, or the key as the path token of `/api/v1/devices/u/{token}/uploads/`.",
        }

"""Swagger UI under the strict Content Security Policy.

drf-spectacular's split view loads its init script from a URL instead of an
inline <script>, and the sidecar package serves Swagger UI's files from our own
static files (no CDN). The page still carries a three-rule inline <style>, so
this one view allows inline styles; scripts stay 'self' only.
"""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView


@method_decorator(csp_update({"style-src": [SELF, UNSAFE_INLINE]}), name="dispatch")
class SwaggerDocsView(SpectacularSwaggerSplitView):
    pass

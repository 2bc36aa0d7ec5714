"""``GET /api/v1/ping/``: an authenticated endpoint that does nothing.

It goes through the whole DRF stack (authentication, permissions, renderer)
and touches no table but the key lookup, so the API benchmark measures every
other endpoint against it as its ceiling on the same machine and run.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class PongSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    user = serializers.CharField(help_text="who the request authenticated as")


class PingView(APIView):
    @extend_schema(responses=PongSerializer, summary="Authenticated no-op (liveness of the API stack)")
    def get(self, request):
        # The serializer documents the shape; building one per request would be a third of the
        # view's CPU for two plain values.
        return Response({"ok": True, "user": request.user.get_username()})

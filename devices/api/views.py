"""The device API: the upload endpoint devices post to, and scoped reads for people.

Devices authenticate with their keys (``devices.api.authentication``) and see
only their own uploads; people see what their sites hold (``restrict()``).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from devices import services
from devices.api.authentication import DeviceKeyAuthentication, is_device
from devices.api.serializers import (
    DeviceSerializer,
    ReaderUploadSerializer,
    TagSerializer,
    UnknownTagSerializer,
    UploadReceivedSerializer,
)
from devices.errors import UploadTooLarge
from devices.models import Device, ReaderUpload, ReadPoint, Tag, TagAssignment, UnknownTag
from tracker.api.access import Access, closed_to_keys
from tracker.api.authentication import ApiKeyAuthentication
from tracker.api.base import ScopedReadOnlyViewSet
from tracker.api.partner import ApiKeyScopePermission

AUTHENTICATION = [DeviceKeyAuthentication, ApiKeyAuthentication, SessionAuthentication]


class RawBodyParser(BaseParser):
    """Accept any content type: the upload body is stored as received, never parsed here."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


class UploadPermission(BasePermission):
    message = "Only devices upload here: authenticate with a device key."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method == "POST":
            return is_device(user)
        return True


class ReaderUploadViewSet(ScopedReadOnlyViewSet):
    """``POST``: a device stores an upload (202, or 200 with the original id for a
    retry). ``GET``: its status, the reason if rejected and what it produced."""

    queryset = ReaderUpload.objects.select_related("device", "site").defer("body")
    serializer_class = ReaderUploadSerializer
    authentication_classes = AUTHENTICATION
    permission_classes = [UploadPermission, ApiKeyScopePermission]
    access = Access(write=closed_to_keys("Readers upload with their own device keys."))
    parser_classes = [RawBodyParser]
    filterset_fields = ["status"]
    ordering_fields = ["received_at", "id"]

    def get_queryset(self):
        if is_device(self.request.user):
            return (
                ReaderUpload.objects.filter(device=self.request.user.device)
                .select_related("device", "site")
                .defer("body")
            )
        return super().get_queryset()

    @extend_schema(
        request={"*/*": bytes},
        parameters=[
            OpenApiParameter(
                "X-Upload-Id",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The device's own id of this upload; a retry sends the same.",
            ),
        ],
        responses={202: UploadReceivedSerializer, 200: UploadReceivedSerializer},
    )
    def create(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > services.MAX_UPLOAD_BYTES:
            raise UploadTooLarge(f"The upload is {length} bytes; the limit is {services.MAX_UPLOAD_BYTES} bytes.")
        try:
            body = request.body
        except RequestDataTooBig:
            raise UploadTooLarge(f"The upload exceeds {services.MAX_UPLOAD_BYTES} bytes.") from None
        explicit = request.headers.get("X-Upload-Id") or request.query_params.get("upload_id")
        upload, created = services.reader_upload_receive(
            device=request.user.device, body=body, content_type=request.content_type or "", upload_key=explicit
        )
        token = kwargs.get("token")
        location = (
            f"/api/v1/devices/u/{token}/uploads/{upload.pk}/" if token else f"/api/v1/devices/uploads/{upload.pk}/"
        )
        # UploadReceivedSerializer's shape (the schema's), without building it on the devices' hottest path
        return Response(
            {"id": upload.pk, "status": str(upload.status), "duplicate": not created},
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
            headers={"Location": location},
        )


class DeviceViewSet(ScopedReadOnlyViewSet):
    queryset = Device.objects.select_related("site", "location").prefetch_related(
        Prefetch("read_points", queryset=ReadPoint.objects.select_related("location"))
    )
    serializer_class = DeviceSerializer
    lookup_field = "device_id"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["kind", "active"]
    ordering_fields = ["device_id", "last_seen_at"]


class TagViewSet(ScopedReadOnlyViewSet):
    queryset = Tag.objects.select_related("site", "state__location").prefetch_related(
        Prefetch("assignments", queryset=TagAssignment.objects.current(), to_attr="current_assignments")
    )
    serializer_class = TagSerializer
    lookup_field = "tag_id"
    lookup_value_regex = "[^/]+"
    filterset_fields = ["kind"]
    ordering_fields = ["tag_id"]


class UnknownTagViewSet(ScopedReadOnlyViewSet):
    queryset = UnknownTag.objects.select_related("tag", "site", "last_location", "last_device")
    serializer_class = UnknownTagSerializer
    lookup_field = "tag__tag_id"
    lookup_url_kwarg = "tag_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["last_seen_at"]

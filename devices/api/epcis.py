"""EPCIS 2.0 REST endpoints (the binding's ``/capture`` and ``/events``), thin over
``devices.epcis``: capture validates and applies a document synchronously and
answers ``202 Accepted`` with the capture job's ``Location`` (already finished:
``running: false``), as the binding's asynchronous capture does; the query
returns an ``EPCISQueryDocument`` with ``Link: rel="next"`` paging."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http.request import RawPostDataException
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import APIView

from devices.api.serializers import EpcisCaptureJobSerializer
from devices.api.views import RawBodyParser
from devices.epcis import query as epcis_query
from devices.epcis.capture import EpcisInvalid, epcis_capture
from devices.epcis.models import EpcisCapture
from inventory.models import StockMove
from tracker.api.access import Access
from tracker.api.idempotency import idempotent_write

CAPTURE = "epcis_capture"

VERSION_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
MAX_BYTES = 20 * 1024 * 1024


def _raw_body(request) -> bytes:
    """The document as sent, by a partner key or a logged-in session alike.

    A session's CSRF check reads ``request.POST``, which makes DRF run the parser
    (RawBodyParser: the bytes as received) before the view: the body is then that."""
    try:
        return request.body
    except RawPostDataException:
        data = request.data
        if isinstance(data, bytes):
            return data
        # The stream was consumed and nothing kept it (no Content-Length).
        raise ParseError("The request body could not be read; send it with a Content-Length.") from None


def _job(capture: EpcisCapture) -> dict:
    job = {
        "captureID": str(capture.pk),
        "createdAt": capture.created_at.isoformat() if capture.created_at else None,
        "running": False,
        "success": True,
        "captureErrorBehaviour": "rollback",
        "errors": [],
        "counts": capture.counts,
    }
    return EpcisCaptureJobSerializer(job).data


class EpcisCaptureView(APIView):
    """``POST``: capture an EPCIS 2.0 JSON-LD document (all events or none)."""

    parser_classes = [RawBodyParser]
    # Capture posts stock moves: inventory.add_stockmove.
    access = Access(read=CAPTURE, write=CAPTURE, model=StockMove)

    @extend_schema(
        request={"application/ld+json": bytes},
        responses={202: EpcisCaptureJobSerializer},
        parameters=[
            OpenApiParameter(
                "GS1-Capture-Error-Behaviour",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Only `rollback` (the default).",
            )
        ],
    )
    def post(self, request):
        behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback").strip().lower()
        if behaviour != "rollback":
            raise EpcisInvalid(
                "Only GS1-Capture-Error-Behaviour: rollback is supported.", field="GS1-Capture-Error-Behaviour"
            )
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type not in {"application/json", "application/ld+json"}:
            raise UnsupportedMediaType(
                media_type or "(none)", detail="Send the EPCIS document as application/json or application/ld+json."
            )
        body = _raw_body(request)
        if len(body) > MAX_BYTES:
            raise EpcisInvalid(f"Documents up to {MAX_BYTES} bytes.", field="(document)", code="capture_too_large")
        response = self._capture(request, body)
        if response.status_code == status.HTTP_202_ACCEPTED and "Location" not in response:
            # A replay carries the stored body only: the job's URL is rebuilt from it.
            response["Location"] = reverse("epcis-capture-detail", kwargs={"pk": response.data["captureID"]})
        return response

    @idempotent_write
    def _capture(self, request, body: bytes) -> Response:
        result = epcis_capture(body=body, user=request.user)
        location = reverse("epcis-capture-detail", kwargs={"pk": result.capture.pk})
        return Response(
            _job(result.capture), status=status.HTTP_202_ACCEPTED, headers={"Location": location, **VERSION_HEADERS}
        )


class EpcisCaptureDetailView(APIView):
    """``GET``: the capture job (only the caller's own)."""

    access = Access(read=CAPTURE, write=CAPTURE)

    @extend_schema(responses={200: EpcisCaptureJobSerializer})
    def get(self, request, pk):
        capture = get_object_or_404(EpcisCapture, pk=pk, created_by=request.user)
        return Response(_job(capture), headers=VERSION_HEADERS)


class EpcisEventsView(APIView):
    """``GET``: the user's sites' moves and WIP steps as an EPCISQueryDocument."""

    access = Access(read="read_inventory", write="read_inventory")

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, required=False)
            for name in (
                "eventType",
                "GE_eventTime",
                "LT_eventTime",
                "EQ_bizStep",
                "MATCH_epc",
                "MATCH_anyEPC",
                "MATCH_anyEPCClass",
                "EQ_readPoint",
                "EQ_bizLocation",
                "perPage",
                "nextPageToken",
            )
        ],
        responses={200: dict},
    )
    def get(self, request):
        query = epcis_query.query_from_params(request.query_params)
        page = epcis_query.epcis_events(user=request.user, query=query)
        headers = dict(VERSION_HEADERS)
        if page.next_token:
            params = request.query_params.copy()
            params["nextPageToken"] = page.next_token
            url = request.build_absolute_uri(f"{request.path}?{urlencode(params, doseq=True)}")
            headers["Link"] = f'<{url}>; rel="next"'
            headers["GS1-Next-Page-Token-Expires"] = "never"
        response = Response(epcis_query.query_document(page.events), headers=headers)
        return response

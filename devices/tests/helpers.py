"""Shared helpers of the devices tests."""

from __future__ import annotations

import base64
from pathlib import Path

from rest_framework.test import APIClient

UPLOADS = Path(__file__).resolve().parent / "uploads"

EXAMPLES = {
    "zebra_iotc": "zebra-fx9600-iotconnector-httppost.json",
    "impinj_iot": "impinj-r700-iot-webhook.json",
    "impinj_speedway": "impinj-speedway-connect-httppost.ndjson",
    "llrp_json": "llrp-ro-access-report.json",
    "minew_ble": "minew-g1-json-long.json",
    "ruuvi_gateway": "ruuvi-gateway-http-timestamped.json",
    "gs1_scans": "handheld-scans-gs1.json",
    "epcis2": "epcis-2.0-capture.jsonld",
}

TOTE = "urn:epc:id:grai:9501101.00001.5001"
UNIT_4711 = "urn:epc:id:sgtin:9501101.053000.4711"
UNIT_100001 = "urn:epc:id:sgtin:9501101.053000.100001"
UNIT_100002 = "urn:epc:id:sgtin:9501101.053000.100002"
UNIT_20007 = "urn:epc:id:sgtin:9501101.153001.20007"
PALLET = "urn:epc:id:sscc:9501101.0000000042"
OPAQUE = "epc:hex:E2801160600002050000000A"


def example(fmt: str) -> bytes:
    return (UPLOADS / EXAMPLES[fmt]).read_bytes()


def post_upload(
    body: bytes,
    secret: str,
    *,
    how: str = "bearer",
    device_id: str = "",
    content_type: str = "application/json",
    headers: dict | None = None,
    client: APIClient | None = None,
):
    client = client or APIClient()
    extra = dict(headers or {})
    url = "/api/v1/devices/uploads/"
    if how == "bearer":
        extra["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    elif how == "basic":
        extra["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{device_id}:{secret}".encode()).decode()
    elif how == "api_key":
        extra["HTTP_X_API_KEY"] = secret
    elif how == "path":
        url = f"/api/v1/devices/u/{secret}/uploads/"
    return client.generic("POST", url, body, content_type=content_type, **extra)

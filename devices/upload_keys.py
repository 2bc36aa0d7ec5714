"""How the upload endpoint recognises a retry, cheaply, before anything is parsed.

In order: an explicit ``X-Upload-Id`` header (or ``?upload_id=``); the envelope's
upload id or the vendor's sequence number for formats that carry one (read from
the decoded JSON envelope only: no per-read work); else the SHA-256 of the body.
The key is stored on the ``ReaderUpload``, unique per device.

The envelope rules mirror the parsers' ``upload_key`` (see their docstrings):
handheld scans ``upload_id``; Ruuvi gateway ``<gw_mac>:<nonce>``; LLRP
``<reader>:<message_id>:<first FirstSeenTimestampUTC>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

MAX_KEY_LENGTH = 200


def _gs1_scans(doc: Any) -> str | None:
    if isinstance(doc, dict) and isinstance(doc.get("upload_id"), str) and doc["upload_id"].strip():
        return doc["upload_id"].strip()
    return None


def _ruuvi(doc: Any) -> str | None:
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        return None
    nonce, gw_mac = data.get("nonce"), data.get("gw_mac")
    if nonce is None or not isinstance(gw_mac, str) or not gw_mac or isinstance(nonce, bool):
        return None
    return f"{gw_mac}:{nonce}"


def _llrp(doc: Any) -> str | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("message_id"), int):
        return None
    reader = doc.get("reader") if isinstance(doc.get("reader"), str) else ""
    report = doc.get("RO_ACCESS_REPORT")
    first = ""
    if isinstance(report, dict) and isinstance(report.get("TagReportData"), list):
        for trd in report["TagReportData"]:
            if isinstance(trd, dict) and trd.get("FirstSeenTimestampUTC") is not None:
                first = str(trd["FirstSeenTimestampUTC"])
                break
    return f"{reader}:{doc['message_id']}:{first}"


ENVELOPE_KEYS: dict[str, Callable[[Any], str | None]] = {
    "gs1_scans": _gs1_scans,
    "ruuvi_gateway": _ruuvi,
    "llrp_json": _llrp,
}


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def upload_key_for(*, upload_format: str, body: bytes, explicit: str | None = None) -> str:
    """The de-duplication key of an upload (``key:...`` or ``sha256:...``)."""
    if explicit and explicit.strip():
        return f"key:{explicit.strip()[:MAX_KEY_LENGTH]}"
    extract = ENVELOPE_KEYS.get(upload_format)
    if extract is not None:
        try:
            key = extract(json.loads(body))
        except (ValueError, RecursionError):
            key = None  # not JSON: the parser will reject it; the hash still de-duplicates
        if key:
            return f"key:{key[:MAX_KEY_LENGTH]}"
    return f"sha256:{body_hash(body)}"

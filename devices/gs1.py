"""The GS1 company prefixes the parsers need to turn barcode keys into EPC URIs.

A GTIN or SSCC does not say how long its company prefix is, so a scanned
``(01)…(21)4711`` becomes the same ``urn:epc:id:sgtin:9501101.053000.4711`` an
RFID tag reports only when the prefix length is known. Prefixes come from the
``GS1_COMPANY_PREFIXES`` environment variable (comma separated) and from each
site's ``settings["devices"]["gs1_company_prefixes"]``. They are facts about
GS1 numbers, not about a site, so the process keeps the union of all it has seen.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

from devices.parsers import configure_company_prefixes

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_known: frozenset[str] = frozenset()


def _valid(prefix: object) -> bool:
    return isinstance(prefix, str) and 4 <= len(prefix) <= 12 and prefix.isdigit()


def ensure_company_prefixes(prefixes: Iterable[object] = ()) -> None:
    """Make the parsers know ``prefixes`` (cheap when nothing is new)."""
    global _known  # process-wide parser configuration
    wanted = {p.strip() for p in prefixes if isinstance(p, str)}
    if wanted <= _known:
        return
    bad = sorted(p for p in wanted if not _valid(p))
    if bad:
        logger.warning("ignoring invalid GS1 company prefixes: %s", ", ".join(bad))
    with _lock:
        merged = _known | {p for p in wanted if _valid(p)}
        if merged != _known:
            configure_company_prefixes(merged)
            _known = frozenset(merged)


def configure_from_environment() -> None:
    ensure_company_prefixes(p for p in os.environ.get("GS1_COMPANY_PREFIXES", "").split(",") if p.strip())

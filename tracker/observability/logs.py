"""Structured logs: one JSON object per line, carrying the request id.

Imported by ``LOGGING`` before apps load: no Django models here.
``LOG_FORMAT=json`` (the default when DEBUG is off) selects ``JsonFormatter``;
``plain`` keeps a readable line that still shows the request id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from tracker.request_context import client_ip_var, request_id_var

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "request_id", "client_ip"}
)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (and ``client_ip``) of the current request or task to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or "-"
        if not hasattr(record, "client_ip"):
            record.client_ip = client_ip_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", ...extra, "exc_info"}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or None,
        }
        client_ip = getattr(record, "client_ip", None)
        if client_ip:
            payload["client_ip"] = client_ip
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)

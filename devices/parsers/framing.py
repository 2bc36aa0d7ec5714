"""The declared ``Content-Type`` of an upload, checked against its body before any parser runs.

Devices label their bodies in different ways: an Impinj R700 webhook posts
``application/json`` (an array), its HTTP stream and MQTT bridges
``application/x-ndjson`` (one event per line), Speedway Connect's HTTP Post sends
``application/x-www-form-urlencoded``, gateways often say ``text/plain`` and CSV
exports ``text/csv``.  The rule here (RFC 9110 section 8.3, RFC 8259, the NDJSON
spec, the WHATWG urlencoded parser and RFC 4180):

================================  ===============================================
declared type                     the body must be
================================  ===============================================
``application/json``,             UTF-8 JSON: one document (pretty-printed or not)
``*/*+json`` (e.g. ld+json)       or, as many readers label a batch, one JSON value
                                  per line
``application/x-ndjson``,         one complete JSON value per non-blank line
``application/jsonl``,
``application/json-seq``
``text/plain``                    text in its ``charset`` (default UTF-8); the
                                  format decides what the text is
``application/x-www-form-``       ``name=value`` pairs joined by ``&``
``urlencoded``
``text/csv``                      a header line and rows (only the ``csv`` format)
none, ``application/octet-stream``  anything: the format's parser decides
================================  ===============================================

A body that does not match its declared type raises :class:`ParseError` saying
which type was declared and what the body is instead; a type no format uses
(``application/xml``...) is refused by name.  A ``charset`` other than UTF-8 is
decoded here, so the parsers always see UTF-8.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .base import ParseError

JSON = "json"
NDJSON = "ndjson"
TEXT = "text"
FORM = "form"
CSV = "csv"
ANY = "any"

_KINDS = {
    "application/json": JSON,
    "text/json": JSON,
    "application/x-ndjson": NDJSON,
    "application/ndjson": NDJSON,
    "application/jsonl": NDJSON,
    "application/x-jsonlines": NDJSON,
    "application/jsonlines": NDJSON,
    "application/json-seq": NDJSON,
    "text/plain": TEXT,
    "application/x-www-form-urlencoded": FORM,
    "text/csv": CSV,
    "application/csv": CSV,
    "application/octet-stream": ANY,
    "": ANY,
}

#: Which declared kinds each format has a shape for (the others are refused by name).
ACCEPTS: dict[str, frozenset[str]] = {
    "csv": frozenset({CSV, TEXT, ANY}),
    "impinj_speedway": frozenset({JSON, NDJSON, TEXT, FORM, ANY}),
}
_DEFAULT_ACCEPTS = frozenset({JSON, NDJSON, TEXT, ANY})


@dataclass(frozen=True, slots=True)
class Media:
    """What the upload declared: its media type (lower case, no parameters) and kind."""

    media_type: str
    kind: str


def media_of(content_type: str | None) -> Media:
    """Classify a ``Content-Type`` header value; unknown types raise ParseError."""
    media_type, _charset = _split(content_type)
    kind = _KINDS.get(media_type)
    if kind is None and media_type.endswith("+json"):
        kind = JSON
    if kind is None:
        raise ParseError(
            f"Content-Type {media_type!r} is not supported; send application/json, application/x-ndjson, "
            "text/plain, application/x-www-form-urlencoded or text/csv"
        )
    return Media(media_type, kind)


def _split(content_type: str | None) -> tuple[str, str | None]:
    parts = (content_type or "").split(";")
    media_type = parts[0].strip().lower()
    charset = None
    for param in parts[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    return media_type, charset


def frame(body: bytes, content_type: str | None, *, upload_format: str) -> tuple[bytes, Media]:
    """Check ``body`` against its declared type; return it as UTF-8 and the media kind.

    Raises ParseError when the declared type is unknown, not a shape of
    ``upload_format``, or does not match the body.
    """
    media = media_of(content_type)
    accepted = ACCEPTS.get(upload_format, _DEFAULT_ACCEPTS)
    if media.kind not in accepted:
        raise ParseError(f"Content-Type {media.media_type} is not a shape of the {upload_format} format")
    body = _recode(body, content_type)
    if media.kind == JSON:
        _check_json(body, media)
    elif media.kind == NDJSON:
        _check_ndjson(body, media)
    elif media.kind == FORM:
        _check_form(body, media)
    elif media.kind == CSV:
        _check_csv(body, media)
    return body, media


def _recode(body: bytes, content_type: str | None) -> bytes:
    _media_type, charset = _split(content_type)
    if charset is None or charset.replace("-", "").replace("_", "") in ("utf8", "usascii", "ascii"):
        return body
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise ParseError(f"Content-Type charset {charset!r} is unknown") from None
    try:
        return bytes(body).decode(codec.name).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"body is not valid {charset} (offset {exc.start})") from None


def _text(body: bytes, media: Media) -> str:
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"declared {media.media_type} but the body is not UTF-8 text (offset {exc.start})") from None
    return text.removeprefix("\ufeff")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _check_json(body: bytes, media: Media) -> None:
    text = _text(body, media).strip()
    if not text:
        return  # the parser reports an empty body
    if _is_json(text):
        return
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(_is_json(line) for line in lines):
        return  # a newline-delimited batch labelled application/json
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"declared {media.media_type} but the body is not JSON: invalid JSON at line {exc.lineno} "
            f"column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"declared {media.media_type} but the body is not JSON: invalid JSON ({exc})") from None


def _check_ndjson(body: bytes, media: Media) -> None:
    text = _text(body, media)
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not _is_json(line):
            hint = " (a pretty-printed document is application/json)" if _is_json(text) else ""
            raise ParseError(f"declared {media.media_type} but line {n} is not one complete JSON value{hint}")


def _check_form(body: bytes, media: Media) -> None:
    text = _text(body, media).strip()
    if text[:1] in ("{", "[") and _is_json(text):
        raise ParseError(f"declared {media.media_type} but the body is JSON; declare application/json")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=10_000)
    except ValueError as exc:
        raise ParseError(f"declared {media.media_type} but the body is not a form ({exc})") from None
    if not pairs:
        raise ParseError(f"declared {media.media_type} but the body holds no form fields")


def _check_csv(body: bytes, media: Media) -> None:
    text = _text(body, media).strip()
    if text[:1] in ("{", "[") and _is_json(text):
        raise ParseError(f"declared {media.media_type} but the body is JSON; declare application/json")


def form_fields(body: bytes) -> dict[str, str]:
    """The fields of a urlencoded body (the last value of a repeated name wins)."""
    try:
        text = bytes(body).decode("utf-8")
        return dict(parse_qsl(text.strip(), keep_blank_values=True, strict_parsing=True, max_num_fields=10_000))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"body is not a form ({exc})") from None

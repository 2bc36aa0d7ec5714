"""Helpers shared by the parsers: body decoding, typed field access, times, ids.

Everything here raises :class:`~devices.parsers.base.ParseError` (never anything
else) on bad input, with a reason that names the field.  Callers prefix the
location (event index, line number) with :meth:`ParseError.at`, so the hot path
builds no location strings for good reads.

Identifier canonicalisation follows GS1 EPC Tag Data Standard (TDS) 2.x as
implemented by ``epcpy``; GS1 element strings are parsed by ``biip``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from epcpy import hex_to_tag_encodable
from epcpy.utils.parsers import gs1_element_string_to_gs1_element

from .base import ParseError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_JSON_KIND = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    type(None): "null",
}

# Largest EPC memory bank we accept as an id (496 bits is the Gen2 EPC maximum;
# leave room for XPC-extended banks).
_MAX_EPC_HEX = 128


# --------------------------------------------------------------------------- body


def decode_text(body: bytes) -> str:
    """Decode a body as UTF-8 (a leading BOM is dropped)."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ParseError(f"body must be bytes, got {type(body).__name__}")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"body is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _reject_constant(name: str) -> Any:
    raise ParseError(f"invalid JSON number {name}")


def loads(text: str) -> Any:
    """``json.loads`` that only raises ParseError (and rejects NaN/Infinity)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ParseError:
        raise
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ParseError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal with too many digits
        raise ParseError(f"invalid JSON: {exc}") from None


def load_json(body: bytes) -> Any:
    """Decode and parse a JSON body."""
    text = decode_text(body)
    if not text.strip():
        raise ParseError("body is empty")
    return loads(text)


def load_json_records(body: bytes, *, flatten: bool = True) -> tuple[list[Any], list[int] | None]:
    """Parse one JSON document or newline-delimited JSON into a list of records.

    One document (compact or pretty-printed) that is an array gives its elements,
    any other document is one record.  Otherwise every non-blank line must hold
    one JSON value (NDJSON, as HTTP streams and MQTT bridges deliver events; blank
    keep-alive lines are skipped); with ``flatten`` a line holding an array (one
    batched POST per line) contributes its elements.  Returns the records and, for
    NDJSON, the 1-based line number of each (for error messages, see :func:`label`).
    """
    text = decode_text(body)
    stripped = text.strip()
    if not stripped:
        raise ParseError("body is empty")
    whole_error: ParseError | None = None
    try:
        doc = loads(stripped)
    except ParseError as exc:
        whole_error = exc
    else:
        return (doc if type(doc) is list else [doc]), None
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    numbered = [(n, line) for n, line in numbered if line]
    if len(numbered) == 1:
        raise whole_error
    records: list[Any] = []
    lines: list[int] = []
    for n, line in numbered:
        try:
            value = loads(line)
        except ParseError as exc:
            if n == numbered[0][0] and line[:1] in "{[" and line[-1:] not in "}]":
                raise whole_error from None  # a (broken) pretty-printed document, not NDJSON
            raise exc.at(f"line {n}") from None
        if flatten and type(value) is list:
            records.extend(value)
            lines.extend([n] * len(value))
        else:
            records.append(value)
            lines.append(n)
    return records, lines


def label(index: int, lines: list[int] | None) -> str:
    """Where record ``index`` is: ``[i]`` in an array, ``line n`` in NDJSON."""
    return f"[{index}]" if lines is None else f"line {lines[index]}"


# --------------------------------------------------------------------------- fields


def kind(value: object) -> str:
    """JSON type name of a value, with a short excerpt, for error messages."""
    name = _JSON_KIND.get(type(value), type(value).__name__)
    if isinstance(value, dict | list):
        return name
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{name} {text}"


def req(obj: Mapping[str, Any], key: str) -> Any:
    """``obj[key]``, or ParseError naming the missing field."""
    try:
        return obj[key]
    except KeyError:
        raise ParseError(f"missing field {key!r}") from None


def as_obj(value: object, name: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise ParseError(f"{name}: expected object, got {kind(value)}")
    return value


def as_list(value: object, name: str) -> list[Any]:
    if type(value) is not list:
        raise ParseError(f"{name}: expected array, got {kind(value)}")
    return value


def as_str(value: object, name: str, *, allow_empty: bool = False) -> str:
    if type(value) is not str:
        raise ParseError(f"{name}: expected string, got {kind(value)}")
    if not allow_empty and not value.strip():
        raise ParseError(f"{name}: must not be empty")
    return value


def opt_str(value: object, name: str) -> str | None:
    if value is None:
        return None
    return as_str(value, name, allow_empty=True)


def as_int(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if type(value) is not int:
        raise ParseError(f"{name}: expected integer, got {kind(value)}")
    if minimum is not None and value < minimum:
        raise ParseError(f"{name}: {value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ParseError(f"{name}: {value} is above the maximum {maximum}")
    return value


def as_float(value: object, name: str) -> float:
    """A finite JSON number as float (booleans are not numbers)."""
    t = type(value)
    if t is int:
        if abs(value) > 1e15:  # type: ignore[arg-type]
            raise ParseError(f"{name}: {value} is out of range")
        return float(value)  # type: ignore[arg-type]
    if t is float and math.isfinite(value):  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    raise ParseError(f"{name}: expected number, got {kind(value)}")


def as_decimal(value: object, name: str) -> Decimal:
    """A finite JSON number (or numeric string) as Decimal, via its decimal text."""
    if type(value) is str:
        try:
            dec = Decimal(value.strip())
        except ArithmeticError:
            raise ParseError(f"{name}: {kind(value)} is not a number") from None
        if not dec.is_finite():
            raise ParseError(f"{name}: {kind(value)} is not a finite number")
        return dec
    return Decimal(repr(as_float(value, name))) if type(value) is float else Decimal(as_int(value, name))


def rssi_value(value: object, name: str, *, scale: int = 1) -> float | None:
    """RSSI in dBm (``scale=100`` for centi-dBm); None stays None."""
    if value is None:
        return None
    rssi = as_float(value, name) / scale
    if not -200.0 <= rssi <= 50.0:
        raise ParseError(f"{name}: {value} is not a plausible RSSI")
    return rssi


# --------------------------------------------------------------------------- times


def iso_time(value: object, name: str) -> datetime:
    """ISO 8601 string with an offset (or Z) -> aware UTC datetime."""
    if type(value) is not str:
        raise ParseError(f"{name}: expected ISO 8601 timestamp string, got {kind(value)}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"{name}: {kind(value)} is not an ISO 8601 timestamp") from None
    tz = dt.tzinfo
    if tz is UTC:
        return dt
    if tz is None:
        raise ParseError(f"{name}: timestamp {value!r} has no UTC offset")
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ParseError(f"{name}: timestamp {value!r} is out of range") from None


def epoch_time(value: object, name: str, *, per_second: int, allow_str: bool = False) -> datetime:
    """Epoch count (``per_second`` = 1, 1000 or 1_000_000) -> aware UTC datetime."""
    if allow_str and type(value) is str and value and _DIGITS.issuperset(value) and len(value) < 20:
        value = int(value)
    if type(value) is not int:
        expected = "integer or digit string" if allow_str else "integer"
        raise ParseError(f"{name}: expected epoch {expected}, got {kind(value)}")
    if value < 0:
        raise ParseError(f"{name}: epoch value {value} is negative")
    try:
        if per_second == 1:
            return _EPOCH + timedelta(seconds=value)
        if per_second == 1000:
            return _EPOCH + timedelta(milliseconds=value)
        return _EPOCH + timedelta(microseconds=value * (1_000_000 // per_second))
    except (OverflowError, ValueError):
        raise ParseError(f"{name}: epoch value {value} is out of range") from None


# --------------------------------------------------------------------------- ids


@lru_cache(maxsize=65536)
def _epc_from_hex(value: str) -> tuple[str, str] | None:
    h = value.strip().upper()
    if h.startswith("0X"):
        h = h[2:]
    if not h or len(h) % 2 or len(h) > _MAX_EPC_HEX or not _HEX.issuperset(h):
        return None
    try:
        uri = hex_to_tag_encodable(h).epc_uri
    except Exception:  # epcpy reports "not GS1" with several exception types
        uri = f"epc:hex:{h}"
    return uri, h


def epc_from_hex(value: object, name: str) -> tuple[str, str]:
    """EPC hex -> (canonical tag id, upper-case hex); cached per distinct value."""
    if type(value) is str:
        result = _epc_from_hex(value)
        if result is not None:
            return result
    raise ParseError(f"{name}: expected EPC as an even-length hex string, got {kind(value)}")


def hex_value(value: object, name: str) -> str:
    """A hex memory value (TID, user bank) -> upper-case hex, ``0x`` prefix dropped."""
    if type(value) is str:
        h = value.strip().upper().removeprefix("0X")
        if h and len(h) % 2 == 0 and len(h) <= _MAX_EPC_HEX and _HEX.issuperset(h):
            return h
    raise ParseError(f"{name}: expected an even-length hex string, got {kind(value)}")


def base64_value(value: object, name: str) -> str:
    """A base64 memory value (Impinj ``tid``) -> upper-case hex."""
    if type(value) is str:
        h = _b64_to_hex(value)
        if h is not None:
            return h
    raise ParseError(f"{name}: expected base64, got {kind(value)}")


def opt_int(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    return None if value is None else as_int(value, name, minimum=minimum, maximum=maximum)


def opt_float(value: object, name: str) -> float | None:
    return None if value is None else as_float(value, name)


@lru_cache(maxsize=65536)
def _b64_to_hex(value: str) -> str | None:
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex().upper() if raw else None


def epc_from_base64(value: object, name: str) -> tuple[str, str]:
    """Base64 EPC (as Impinj IoT sends ``epc``) -> (canonical tag id, hex)."""
    if type(value) is str:
        h = _b64_to_hex(value)
        if h is not None:
            result = _epc_from_hex(h)
            if result is not None:
                return result
    raise ParseError(f"{name}: expected base64 EPC, got {kind(value)}")


@lru_cache(maxsize=65536)
def _ble_mac(value: str) -> str | None:
    h = value.strip().replace(":", "").replace("-", "").lower()
    if len(h) != 12 or not _HEX.issuperset(h):
        return None
    return ":".join((h[0:2], h[2:4], h[4:6], h[6:8], h[8:10], h[10:12]))


def ble_mac(value: object, name: str) -> str:
    """A BLE MAC in any common spelling -> ``aa:bb:cc:dd:ee:ff``."""
    if type(value) is str:
        mac = _ble_mac(value)
        if mac is not None:
            return mac
    raise ParseError(f"{name}: expected a 6-byte MAC address, got {kind(value)}")


def read_point(reader: str, antenna: int | None) -> str:
    return reader if antenna is None else f"{reader}:{antenna}"


# ------------------------------------------------------- GS1 keys -> EPC URIs

_company_prefixes: tuple[str, ...] = ()


def configure_company_prefixes(prefixes: Iterable[str]) -> None:
    """Declare the GS1 company prefixes this plant knows (its own, its partners').

    Turning a GTIN + serial (from a barcode) into an SGTIN URI needs the length of
    the company prefix, which the GTIN does not carry.  Prefixes given here win
    (longest match first); otherwise biip's GS1 prefix-length table is used.  Call
    once at start-up (e.g. from the devices AppConfig.ready(), from a setting).
    """
    cleaned = []
    for prefix in prefixes:
        if not (isinstance(prefix, str) and 4 <= len(prefix) <= 12 and _DIGITS.issuperset(prefix)):
            raise ValueError(f"not a GS1 company prefix: {prefix!r}")
        cleaned.append(prefix)
    global _company_prefixes  # process-wide configuration
    _company_prefixes = tuple(sorted(set(cleaned), key=len, reverse=True))
    _element_string_uri.cache_clear()


def company_prefix_length(digits: str) -> int | None:
    """Length of the company prefix that ``digits`` (a GS1 key) starts with."""
    for prefix in _company_prefixes:
        if digits.startswith(prefix):
            return len(prefix)
    try:
        from biip.gs1_prefixes import GS1CompanyPrefix

        found = GS1CompanyPrefix.extract(digits)
    except Exception:  # biip raises several types on odd input
        return None
    return len(found.value) if found is not None else None


@lru_cache(maxsize=16384)
def _element_string_uri(element_string: str, key_digits: str) -> str | None:
    cpl = company_prefix_length(key_digits)
    if cpl is None:
        return None
    try:
        return gs1_element_string_to_gs1_element(element_string, cpl).epc_uri
    except Exception:  # epcpy raises several types for invalid keys
        return None


def epc_uri_from_elements(ai: Mapping[str, str]) -> str | None:
    """EPC pure-identity URI for the object a set of GS1 AIs identifies, if any.

    Priority: SSCC (00), SGTIN (01 + 21), GRAI (8003 with serial), GIAI (8004),
    SGLN (414 [+ 254]).
    """
    if (sscc := ai.get("00")) is not None:
        return _element_string_uri(f"(00){sscc}", sscc[1:])
    gtin, serial = ai.get("01"), ai.get("21")
    if gtin is not None and serial is not None:
        return _element_string_uri(f"(01){gtin}(21){serial}", gtin[1:])
    if (grai := ai.get("8003")) is not None and len(grai) > 14:
        return _element_string_uri(f"(8003){grai}", grai[1:])
    if (giai := ai.get("8004")) is not None:
        return _element_string_uri(f"(8004){giai}", giai)
    if (gln := ai.get("414")) is not None:
        return _element_string_uri(f"(414){gln}(254){ai.get('254', '0')}", gln)
    return None

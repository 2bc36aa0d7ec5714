"""Simple CSV export of tag reads (format ``"csv"``), defined by Shopfloor.

For readers and middleware that can only export a table.  The body is UTF-8
(a BOM is allowed), RFC 4180 CSV with a header row; the delimiter is ``,`` or, if
the header line contains none, ``;`` or a tab.  Header names are matched
case-insensitively, surrounding blanks ignored, unknown columns ignored:

================  ========  ====================================================
column            required  content
================  ========  ====================================================
epc | tag |       yes       EPC as hex (decoded to an EPC URI like the readers'
tag_id | epc_hex            reads), or an EPC pure-identity URI ``urn:epc:id:...``
reader |          yes       reader / gateway name (may be empty)
read_point
antenna           no        antenna number (integer >= 0)
timestamp | time  yes       ISO 8601 with offset or ``Z`` (first seen)
| first_seen
last_seen         no        ISO 8601 with offset (defaults to the timestamp)
rssi              no        peak RSSI in dBm
count             no        times seen, integer >= 1 (default 1)
================  ========  ====================================================

Example::

    epc,reader,antenna,timestamp,rssi,count
    303643E6B433C20000001267,FX9600-DOCK1,2,2025-11-18T09:41:07.512Z,-58,5

Blank lines are skipped.  Errors name the line number (1 = header).
"""

from __future__ import annotations

import csv

from ._common import as_float, decode_text, epc_from_hex, iso_time
from .base import ParseContext, ParseError, ParseResult, TagRead

FORMAT = "csv"

_ALIASES = {
    "epc": "tag",
    "tag": "tag",
    "tag_id": "tag",
    "epc_hex": "tag",
    "reader": "reader",
    "read_point": "reader",
    "antenna": "antenna",
    "timestamp": "time",
    "time": "time",
    "first_seen": "time",
    "last_seen": "last_seen",
    "rssi": "rssi",
    "count": "count",
}
_REQUIRED = (("tag", "epc"), ("reader", "reader"), ("time", "timestamp"))


def _int(text: str, name: str, minimum: int) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise ParseError(f"{name}: {text[:20]!r} is not a non-negative integer")
    value = int(text)
    if value < minimum:
        raise ParseError(f"{name}: {value} is below the minimum {minimum}")
    return value


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse a CSV export of tag reads."""
    text = decode_text(body)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ParseError("line 1: missing header row")
    header_line = lines[0]
    delimiter = ","
    if "," not in header_line:
        delimiter = ";" if ";" in header_line else "\t" if "\t" in header_line else ","
    try:
        rows = list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise ParseError(f"invalid CSV: {exc}") from None
    columns: dict[str, int] = {}
    for idx, name in enumerate(rows[0]):
        key = _ALIASES.get(name.strip().lower())
        if key is not None and key not in columns:
            columns[key] = idx
    for key, shown in _REQUIRED:
        if key not in columns:
            raise ParseError(f"line 1: header has no {shown!r} column (got {', '.join(rows[0])[:200]!r})")
    c_tag, c_reader, c_time = columns["tag"], columns["reader"], columns["time"]
    c_ant, c_last, c_rssi, c_count = (columns.get(k) for k in ("antenna", "last_seen", "rssi", "count"))
    width = len(rows[0])
    result = ParseResult(format=FORMAT)
    append = result.reads.append
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            if len(row) < width:
                raise ParseError(f"expected {width} fields, got {len(row)}")
            tag = row[c_tag].strip()
            if tag.startswith("urn:epc:id:"):
                tag_id, epc_hex = tag, None
            else:
                tag_id, epc_hex = epc_from_hex(tag, "epc")
            reader = row[c_reader].strip()
            first = iso_time(row[c_time].strip(), "timestamp")
            last = first
            if c_last is not None and row[c_last].strip():
                last = iso_time(row[c_last].strip(), "last_seen")
            antenna = None
            if c_ant is not None and row[c_ant].strip():
                antenna = _int(row[c_ant], "antenna", 0)
            rssi = None
            if c_rssi is not None and row[c_rssi].strip():
                try:
                    rssi = as_float(float(row[c_rssi]), "rssi")
                except ValueError:
                    raise ParseError(f"rssi: {row[c_rssi][:20]!r} is not a number") from None
                if not -200.0 <= rssi <= 50.0:
                    raise ParseError(f"rssi: {rssi} is not a plausible RSSI")
            count = 1
            if c_count is not None and row[c_count].strip():
                count = _int(row[c_count], "count", 1)
        except ParseError as exc:
            raise exc.at(f"line {lineno}") from None
        append(
            TagRead(
                tag_id=tag_id,
                read_point=reader if antenna is None else f"{reader}:{antenna}",
                first_seen=min(first, last),
                last_seen=max(first, last),
                count=count,
                rssi=rssi,
                epc_hex=epc_hex,
                antenna=antenna,
            )
        )
    return result

"""LLRP RO_ACCESS_REPORT forwarded as JSON by an edge agent (sllurp field names).

LLRP (EPCglobal/GS1 *Low Level Reader Protocol* 1.0.1) is binary and has no JSON
binding; an edge agent speaking LLRP to the reader forwards each RO_ACCESS_REPORT
with the TagReportData parameter names exactly as the Python ``sllurp`` client
exposes them (``llrp_proto.py``), in a small envelope::

    {"reader": "SpeedwayR-10-EF-25", "llrp_version": "1.0.1", "message_id": 40117,
     "RO_ACCESS_REPORT": {"TagReportData": [ {...}, ... ]}}

Each TagReportData needs an EPC: ``EPC-96`` (96-bit EPCs; sllurp also spells it
``EPC96``), or ``EPCData`` (any length: ``{"EPC": hex, "EPCLengthBits": n}`` or
the hex itself), or a bare ``EPC``.  Its time is ``FirstSeenTimestampUTC`` /
``LastSeenTimestampUTC`` (**microseconds** since the Unix epoch).  A reader
without a clock reports only the ``...Uptime`` variants (microseconds since it
booted, LLRP 1.0.1 section 13.2.3.x): they are no wall-clock time, so such reads
take the upload's receive time and the result says so in a warning.
``AntennaID``, ``PeakRSSI`` (dBm), ``ChannelIndex``, ``TagSeenCount``, Impinj's
``ImpinjPeakRSSI`` (centi-dBm, preferred as it is finer) and
``ImpinjRFPhaseAngle`` (0..4096 for 0..360 degrees) are optional, as chosen by
the ROSpec's TagReportContentSelector.  The read point is ``<reader>:<AntennaID>``.

``upload_key`` is ``"<reader>:<message_id>:<first FirstSeenTimestampUTC>"``: the
LLRP message id is the vendor's sequence number but restarts with each reader
connection, so the first tag time is added to tell a retry (same key) from a new
report that reuses an id after a reconnect.
"""

from __future__ import annotations

from ._common import as_int, as_list, as_obj, epc_from_hex, epoch_time, load_json, opt_int, opt_str, req, rssi_value
from .base import ParseContext, ParseError, ParseResult, TagRead

FORMAT = "llrp_json"


def parse(body: bytes, ctx: ParseContext | None = None) -> ParseResult:
    """Parse one forwarded RO_ACCESS_REPORT."""
    doc = load_json(body)
    try:
        doc = as_obj(doc, "document")
        reader = opt_str(doc.get("reader"), "reader") or ""
        message_id = doc.get("message_id")
        if message_id is not None:
            message_id = as_int(message_id, "message_id", minimum=0)
        report = as_obj(req(doc, "RO_ACCESS_REPORT"), "RO_ACCESS_REPORT")
        tag_reports = report.get("TagReportData")
        tag_reports = [] if tag_reports is None else as_list(tag_reports, "RO_ACCESS_REPORT.TagReportData")
    except ParseError as exc:
        raise exc.at("envelope") from None
    result = ParseResult(format=FORMAT)
    append = result.reads.append
    first_key: int | None = None
    uptime_only = 0
    received_at = ctx.received_at if ctx is not None else None
    for i, trd in enumerate(tag_reports):
        try:
            trd = as_obj(trd, "TagReportData")
            if "EPC-96" in trd:
                tag_id, epc_hex = epc_from_hex(trd["EPC-96"], "EPC-96")
            elif "EPC96" in trd:
                tag_id, epc_hex = epc_from_hex(trd["EPC96"], "EPC96")
            elif "EPC" in trd:
                tag_id, epc_hex = epc_from_hex(trd["EPC"], "EPC")
            elif "EPCData" in trd:
                epc_data = trd["EPCData"]
                if type(epc_data) is dict:
                    tag_id, epc_hex = epc_from_hex(req(epc_data, "EPC"), "EPCData.EPC")
                    bits = epc_data.get("EPCLengthBits")
                    if bits is not None and as_int(bits, "EPCData.EPCLengthBits", minimum=0) != len(epc_hex) * 4:
                        result.warnings.append(
                            f"TagReportData [{i}]: EPCLengthBits {bits} does not match {len(epc_hex) * 4} bits of hex"
                        )
                else:
                    tag_id, epc_hex = epc_from_hex(epc_data, "EPCData")
            else:
                raise ParseError("missing field 'EPC-96' (or 'EPCData')")
            first_raw = trd.get("FirstSeenTimestampUTC")
            last_raw = trd.get("LastSeenTimestampUTC")
            if first_raw is None and last_raw is None:
                uptime = trd.get("FirstSeenTimestampUptime", trd.get("LastSeenTimestampUptime"))
                if uptime is None or received_at is None:
                    raise ParseError("missing field 'FirstSeenTimestampUTC' (or 'LastSeenTimestampUTC')")
                as_int(uptime, "FirstSeenTimestampUptime", minimum=0)
                uptime_only += 1
                first_raw = last_raw = None
                first = last = received_at
            elif first_raw is not None:
                first = epoch_time(first_raw, "FirstSeenTimestampUTC", per_second=1_000_000)
                if first_key is None:
                    first_key = first_raw
            if last_raw is not None:
                last = epoch_time(last_raw, "LastSeenTimestampUTC", per_second=1_000_000)
                if first_raw is None:
                    first = last
            elif first_raw is not None:
                last = first
            if last < first:
                first, last = last, first
            antenna = trd.get("AntennaID")
            if antenna is not None:
                antenna = as_int(antenna, "AntennaID", minimum=0, maximum=65535)
            if trd.get("ImpinjPeakRSSI") is not None:
                rssi = rssi_value(trd["ImpinjPeakRSSI"], "ImpinjPeakRSSI", scale=100)
            else:
                rssi = rssi_value(trd.get("PeakRSSI"), "PeakRSSI")
            count = trd.get("TagSeenCount")
            count = 1 if count is None else as_int(count, "TagSeenCount", minimum=1)
            channel = opt_int(trd.get("ChannelIndex"), "ChannelIndex", minimum=0)
            phase = opt_int(trd.get("ImpinjRFPhaseAngle"), "ImpinjRFPhaseAngle", minimum=0, maximum=4096)
        except ParseError as exc:
            raise exc.at(f"TagReportData [{i}]") from None
        append(
            TagRead(
                tag_id=tag_id,
                read_point=reader if antenna is None else f"{reader}:{antenna}",
                first_seen=first,
                last_seen=last,
                count=count,
                rssi=rssi,
                epc_hex=epc_hex,
                antenna=antenna,
                channel=channel,
                phase=None if phase is None else round(phase * 360 / 4096, 2),
                sequence=message_id,
            )
        )
    if uptime_only:
        result.warnings.append(
            f"{uptime_only} TagReportData with reader-uptime timestamps only: "
            "timed at the upload's receive time (enable the UTC timestamps in the ROSpec)"
        )
    if message_id is not None:
        result.upload_key = f"{reader}:{message_id}:{'' if first_key is None else first_key}"
    return result

"""Step 1 of the pipeline (pure): order, de-duplicate and aggregate reads.

Reads of one tag at one read point inside one time bucket (1 s by default) become
one observation: the read count summed, RSSI averaged over the reads (weighted by
count), the time of the last read. A retried batch or a reader reporting the same
inventory round twice collapses into the same buckets instead of counting twice
for arbitration (the sum is capped per identical report, see below).

Observations timed more than the tolerance after the upload was received are
quarantined: counted, never applied (a device clock gone wrong must not teleport
tags into the future, where every real read would look late).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@dataclass(slots=True)
class Observation:
    """One aggregated sighting: tag ``tag_id`` at read point (``read_point``, ``antenna``)."""

    tag_id: str
    read_point: str
    antenna: int | None
    t: int  # ms since the epoch, last read in the bucket
    first: int  # ms, first read in the bucket
    count: int
    rssi: float | None  # weighted mean of peak RSSI (dBm); None: the format has none
    epc_hex: str | None = None


@dataclass(slots=True)
class Aggregated:
    observations: list[Observation] = field(default_factory=list)
    reads: int = 0  # reads received (sum of counts)
    quarantined: int = 0  # reads timed too far in the future
    duplicates: int = 0  # identical reports dropped


def aggregate(reads: Iterable, *, bucket_ms: int, future_limit_ms: int) -> Aggregated:
    """Aggregate ``TagRead``-like objects into observations sorted by (tag, time).

    Identical reports (same tag, read point, times, count and RSSI) are counted
    once: readers re-send a report after a lost acknowledgement inside one batch.
    """
    out = Aggregated()
    groups: dict[tuple, list] = {}
    seen_reports: set[tuple] = set()
    bucket_ms = max(1, int(bucket_ms))
    for read in reads:
        count = read.count
        out.reads += count
        last = read.last_seen
        t = to_ms(last)
        if t > future_limit_ms:
            out.quarantined += count
            continue
        first = t if read.first_seen is last else to_ms(read.first_seen)
        report = (read.tag_id, read.read_point, read.antenna, t, first, count, read.rssi)
        if report in seen_reports:
            out.duplicates += count
            continue
        seen_reports.add(report)
        key = (read.tag_id, read.read_point, read.antenna, t // bucket_ms)
        group = groups.get(key)
        rssi = read.rssi
        if group is None:
            # [t, first, count, rssi_sum, rssi_count, epc_hex]
            groups[key] = [
                t,
                first,
                count,
                0.0 if rssi is None else rssi * count,
                0 if rssi is None else count,
                read.epc_hex,
            ]
        else:
            if t > group[0]:
                group[0] = t
            if first < group[1]:
                group[1] = first
            group[2] += count
            if rssi is not None:
                group[3] += rssi * count
                group[4] += count
    observations = out.observations
    for (tag_id, read_point, antenna, _bucket), (t, first, count, rssi_sum, rssi_n, epc_hex) in groups.items():
        observations.append(
            Observation(
                tag_id=tag_id,
                read_point=read_point,
                antenna=antenna,
                t=t,
                first=first,
                count=count,
                rssi=(rssi_sum / rssi_n) if rssi_n else None,
                epc_hex=epc_hex,
            )
        )
    observations.sort(key=_order)
    return out


def _order(obs: Observation) -> tuple:
    return (obs.tag_id, obs.t, obs.read_point)

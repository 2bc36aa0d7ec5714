"""One station's timeline, merged from its sources by precedence: pure functions.

Three sources say what a station is doing (``StationState`` rows): the
operator (a stop with a reason, or a resume), its devices (a machine-state
event, or a sensor rule on current or vibration) and its runs (running while
a work order's run is started). Where they disagree the higher one wins:

    operator  >  device  >  run  >  derived idle

so an operator's stop holds even while a run is started and the machine's
current draw says it turns, a device's stop holds while a run is started (the
run means running only "unless a stop is open"), and where no source says
anything the station is idle: *starved* when no work waits for it, *blocked*
when work waits there but nothing runs (its output cannot move on, or nobody
starts it).

Each source's own intervals never overlap (the services close one before
opening the next), so at any moment each source says at most one thing; the
merge sweeps the boundaries once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OPERATOR, DEVICE, RUN, DERIVED = "operator", "device", "run", "derived"
PRECEDENCE: tuple[str, ...] = (OPERATOR, DEVICE, RUN)
IDLE_STARVED, IDLE_BLOCKED = "idle_starved", "idle_blocked"


@dataclass(frozen=True, slots=True)
class Interval:
    """What one source said over ``[start, end)``; ``end`` None: still so."""

    start: dt.datetime
    end: dt.datetime | None
    state: str
    source: str
    reason_id: int | None = None
    row_id: int | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the merged timeline: one state from one source (or derived)."""

    start: dt.datetime
    end: dt.datetime
    state: str
    source: str
    reason_id: int | None = None
    row_id: int | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def union(spans: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for lo, hi in sorted(s for s in spans if s[0] < s[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def merge(
    intervals: Iterable[Interval],
    lo: dt.datetime,
    hi: dt.datetime,
    queued: Iterable[tuple[dt.datetime, dt.datetime]] = (),
) -> list[Segment]:
    """The station's timeline over ``[lo, hi)``: consecutive segments covering it
    exactly, each the highest-precedence source's state there, or derived idle
    (starved / blocked by ``queued``: when work waited at the station)."""
    if hi <= lo:
        return []
    by_source: dict[str, list[Interval]] = {s: [] for s in PRECEDENCE}
    bounds = {lo, hi}
    for iv in intervals:
        end = iv.end or hi
        if end <= lo or iv.start >= hi or end <= iv.start:
            continue
        by_source.setdefault(iv.source, []).append(iv)
        bounds.update(t for t in (iv.start, end) if lo < t < hi)
    waits = union((max(a, lo), min(b, hi)) for a, b in queued)
    for a, b in waits:
        bounds.update(t for t in (a, b) if lo < t < hi)
    for ivs in by_source.values():
        ivs.sort(key=lambda iv: iv.start)
    pointers = dict.fromkeys(by_source, 0)
    wait_i = 0
    points = sorted(bounds)
    out: list[Segment] = []
    for a, b in zip(points, points[1:], strict=False):
        chosen: Interval | None = None
        for source in (*PRECEDENCE, *(s for s in by_source if s not in PRECEDENCE)):
            ivs, i = by_source.get(source, []), pointers.get(source, 0)
            while i < len(ivs) and (ivs[i].end or hi) <= a:
                i += 1
            pointers[source] = i
            if i < len(ivs) and ivs[i].start <= a and chosen is None:
                chosen = ivs[i]
        if chosen is not None:
            seg = Segment(a, b, chosen.state, chosen.source, chosen.reason_id, chosen.row_id)
        else:
            while wait_i < len(waits) and waits[wait_i][1] <= a:
                wait_i += 1
            waiting = wait_i < len(waits) and waits[wait_i][0] <= a
            seg = Segment(a, b, IDLE_BLOCKED if waiting else IDLE_STARVED, DERIVED)
        last = out[-1] if out else None
        if last and (last.state, last.source, last.row_id, last.reason_id) == (
            seg.state,
            seg.source,
            seg.row_id,
            seg.reason_id,
        ):
            out[-1] = Segment(last.start, b, seg.state, seg.source, seg.reason_id, seg.row_id)
        else:
            out.append(seg)
    return out


def clip(segments: Sequence[Segment], windows: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[Segment]:
    """The parts of ``segments`` inside the working ``windows`` (breaks cut out)."""
    out: list[Segment] = []
    spans = sorted(windows)
    for seg in segments:
        for lo, hi in spans:
            a, b = max(seg.start, lo), min(seg.end, hi)
            if a < b:
                out.append(Segment(a, b, seg.state, seg.source, seg.reason_id, seg.row_id))
    return out

"""Step 2 of the pipeline (pure): zone arbitration per tag, so a tag heard by two
read points does not flap between their zones (DESIGN.md section 8).

Per tag and zone a rolling window holds the last ``window_reads`` reads or the
last ``window_ms`` of RSSI, whichever is fewer. The tag moves to a challenger
zone only when

* the challenger (the strongest other zone) has the highest mean RSSI and beats
  the current zone's by an offset
  (``offset_db``) that starts to decay ``hold_off_ms`` after the last move at
  ``decay_db_per_ms`` (a current zone not heard within its window has no mean:
  any challenger beats it),
* the challenger has at least ``min_reads`` reads in its window, and
* it has kept the lead for the challenger zone's ``dwell_ms``.

The current zone's settings decide how sticky it is (offset, hold-off, decay);
the challenger's decide what it takes to enter it (reads, dwell). The move is
dated when the challenger took the lead.

Time only runs forward per tag: an observation older than the tag's last
committed move never undoes it (``LATE``), and one older than every window is
history only (``STALE``). Observations without RSSI (EPCIS events, scans) are
definitive sightings: they move the tag at once.

State survives between uploads as compact JSON (``TagState.arbitration``); the
current zone and the last move time live in their own columns.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

APPLIED = 0
LATE = 1
STALE = 2
DUPLICATE = 3

_NO_MEAN = float("-inf")


@dataclass(frozen=True, slots=True)
class ZoneParams:
    window_reads: int = 20
    window_ms: int = 10_000
    offset_db: float = 6.0
    hold_off_ms: int = 500
    decay_db_per_ms: float = 0.008
    min_reads: int = 2
    dwell_ms: int = 0

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> ZoneParams:
        return cls(
            window_reads=int(values["window_reads"]),
            window_ms=int(values["window_ms"]),
            offset_db=float(values["offset_db"]),
            hold_off_ms=int(values["hold_off_ms"]),
            decay_db_per_ms=float(values["decay_db_per_ms"]),
            min_reads=int(values["min_reads"]),
            dwell_ms=int(values["dwell_ms"]),
        )


DEFAULT_PARAMS = ZoneParams()


@dataclass(frozen=True, slots=True)
class Move:
    from_zone: int | None
    to_zone: int
    at: int  # ms since the epoch


@dataclass(slots=True)
class Arbiter:
    """The arbitration state of one tag."""

    zone: int | None = None
    since: int | None = None  # ms of the last committed move
    clock: int | None = None  # latest observation time applied, ms
    candidate: int | None = None
    candidate_since: int | None = None
    # zone -> [[t ms, RSSI in tenths of a dB, reads], ...] sorted by t; integers, so a
    # state saved and loaded again decides exactly the same
    windows: dict[int, list[list[int]]] = field(default_factory=dict)
    # zone -> [reads, sum of RSSI x reads] of its window, kept in step with it
    sums: dict[int, list[int]] = field(default_factory=dict)

    # ------------------------------------------------------------------ state

    @classmethod
    def load(cls, data: dict | None, *, zone: int | None, since: int | None) -> Arbiter:
        """From ``TagState.arbitration``: ``{"k": clock, "c": candidate, "cs": since,
        "w": {zone: [age, rssi x10, reads, age, ...]}}``, flat integers (ages relative
        to the clock, RSSI in tenths of a dB) so the JSON stays small and fast."""
        arb = cls(zone=zone, since=since)
        if not data:
            return arb
        clock = data.get("k")
        arb.clock = clock
        arb.candidate = data.get("c")
        arb.candidate_since = data.get("cs")
        if clock is not None:
            windows, sums = arb.windows, arb.sums
            for z, flat in (data.get("w") or {}).items():
                entries = [[clock - flat[i], flat[i + 1], flat[i + 2]] for i in range(0, len(flat) - 2, 3)]
                zone_id = int(z)
                windows[zone_id] = entries
                sums[zone_id] = [sum(e[2] for e in entries), sum(e[1] * e[2] for e in entries)]
        return arb

    def dump(self) -> dict:
        data: dict[str, Any] = {}
        if self.clock is None:
            return data
        clock = self.clock
        data["k"] = clock
        if self.candidate is not None:
            data["c"] = self.candidate
            data["cs"] = self.candidate_since
        if self.windows:
            w = {}
            for z, entries in self.windows.items():
                flat: list[int] = []
                for t, r10, n in entries:
                    flat += (clock - t, r10, n)
                w[str(z)] = flat
            data["w"] = w
        return data

    # ------------------------------------------------------------- observing

    def observe(
        self, zone: int, t: int, rssi: float | None, reads: int, params: Callable[[int], ZoneParams]
    ) -> tuple[int, Move | None]:
        """Apply one observation; return (APPLIED | LATE | STALE | DUPLICATE, the move it caused or None)."""
        if self.since is not None and t < self.since:
            return LATE, None
        clock = t if self.clock is None or t > self.clock else self.clock
        if t < clock - params(zone).window_ms:
            return STALE, None
        self.clock = clock
        if rssi is None:
            self.candidate = self.candidate_since = None
            if zone == self.zone:
                return APPLIED, None
            return APPLIED, self._move(zone, t)
        r10 = int(rssi * 10 + (0.5 if rssi >= 0 else -0.5))
        window = self.windows.get(zone)
        entry = [t, r10, reads]
        if window is None:
            self.windows[zone] = [entry]
            self.sums[zone] = [reads, r10 * reads]
        else:
            if t > window[-1][0]:
                window.append(entry)
            else:
                at = bisect.bisect_left(window, t, key=_entry_time)
                while at < len(window) and window[at][0] == t:
                    if window[at][1] == r10 and window[at][2] == reads:
                        return DUPLICATE, None  # the same report again (a reader re-sending a batch)
                    at += 1
                window.insert(at, entry)
            zone_sums = self.sums[zone]
            zone_sums[0] += reads
            zone_sums[1] += r10 * reads
        self._prune(clock, params)
        return APPLIED, self._decide(clock, params)

    def _prune(self, now: int, params: Callable[[int], ZoneParams]) -> None:
        """Drop what fell out of each window: older than ``window_ms``, or beyond the
        newest entries holding ``window_reads`` reads."""
        empty = None
        sums = self.sums
        for z, window in self.windows.items():
            p = params(z)
            horizon = now - p.window_ms
            zone_sums = sums[z]
            total, weighted = zone_sums
            drop = 0
            last = len(window)
            while drop < last and window[drop][0] < horizon:
                total -= window[drop][2]
                weighted -= window[drop][1] * window[drop][2]
                drop += 1
            cap = p.window_reads
            while drop < last - 1 and total - window[drop][2] >= cap:
                total -= window[drop][2]
                weighted -= window[drop][1] * window[drop][2]
                drop += 1
            if drop:
                del window[:drop]
                zone_sums[0], zone_sums[1] = total, weighted
                if not window:
                    empty = [*(empty or ()), z]
        if empty:
            for z in empty:
                del self.windows[z]
                del sums[z]

    def _decide(self, now: int, params: Callable[[int], ZoneParams]) -> Move | None:
        current = self.zone
        current_mean = _NO_MEAN
        best, best_mean, best_reads = None, _NO_MEAN, 0
        for z, (reads, weighted) in self.sums.items():
            mean = weighted / (10 * reads) if reads else _NO_MEAN
            if z == current:
                current_mean = mean
            elif best is None or mean > best_mean:
                best, best_mean, best_reads = z, mean, reads
        # The challenger is the strongest other zone; while it lacks reads, nobody moves
        # (a weaker zone with more reads does not win by default).
        if best is None or best_reads < params(best).min_reads:
            self.candidate = self.candidate_since = None
            return None
        if current is not None and current_mean != _NO_MEAN:
            p = params(current)
            elapsed = now - (self.since if self.since is not None else now)
            required = p.offset_db - max(0, elapsed - p.hold_off_ms) * p.decay_db_per_ms
            if best_mean <= current_mean + max(0.0, required):
                self.candidate = self.candidate_since = None
                return None
        if self.candidate != best or self.candidate_since is None:  # (a candidate always has a since)
            self.candidate, self.candidate_since = best, now
        at = self.candidate_since
        if now - at < params(best).dwell_ms:
            return None
        self.candidate = self.candidate_since = None
        return self._move(best, at)

    def _move(self, zone: int, at: int) -> Move:
        move = Move(from_zone=self.zone, to_zone=zone, at=at)
        self.zone = zone
        self.since = at if self.since is None or at > self.since else self.since
        return move


def _entry_time(entry: list) -> int:
    return entry[0]

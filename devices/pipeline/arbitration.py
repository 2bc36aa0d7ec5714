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
    # zone -> [[t, rssi, reads], ...] sorted by t
    windows: dict[int, list[list]] = field(default_factory=dict)

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
            windows = arb.windows
            for z, flat in (data.get("w") or {}).items():
                windows[int(z)] = [
                    [clock - flat[i], flat[i + 1] / 10, flat[i + 2]] for i in range(0, len(flat) - 2, 3)
                ]
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
                flat = []
                for t, rssi, n in entries:
                    flat += (clock - t, int(rssi * 10 + (0.5 if rssi >= 0 else -0.5)), n)
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
        window = self.windows.get(zone)
        rssi = round(rssi, 1)  # what the stored state keeps, so a reload decides the same
        entry = [t, rssi, reads]
        if window is None:
            self.windows[zone] = [entry]
        elif t > window[-1][0]:
            window.append(entry)
        else:
            at = bisect.bisect_left(window, t, key=_entry_time)
            while at < len(window) and window[at][0] == t:
                if window[at][1] == rssi and window[at][2] == reads:
                    return DUPLICATE, None  # the same report again (a reader re-sending a batch)
                at += 1
            window.insert(at, entry)
        self._prune(clock, params)
        return APPLIED, self._decide(clock, params)

    def _prune(self, now: int, params: Callable[[int], ZoneParams]) -> None:
        empty = []
        for z, window in self.windows.items():
            p = params(z)
            horizon = now - p.window_ms
            drop = 0
            while drop < len(window) and window[drop][0] < horizon:
                drop += 1
            # Keep the newest entries holding the last ``window_reads`` reads.
            total = 0
            keep_from = len(window)
            while keep_from > drop and total < p.window_reads:
                keep_from -= 1
                total += window[keep_from][2]
            if keep_from:
                del window[:keep_from]
            if not window:
                empty.append(z)
        for z in empty:
            del self.windows[z]

    def _decide(self, now: int, params: Callable[[int], ZoneParams]) -> Move | None:
        current = self.zone
        current_mean = _NO_MEAN
        best, best_mean, best_reads = None, _NO_MEAN, 0
        for z, window in self.windows.items():
            reads = 0
            total = 0.0
            for _t, rssi, n in window:
                reads += n
                total += rssi * n
            mean = total / reads if reads else _NO_MEAN
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
        if self.candidate != best:
            self.candidate, self.candidate_since = best, now
        if now - self.candidate_since < params(best).dwell_ms:
            return None
        at = self.candidate_since
        self.candidate = self.candidate_since = None
        return self._move(best, at)

    def _move(self, zone: int, at: int) -> Move:
        move = Move(from_zone=self.zone, to_zone=zone, at=at)
        self.zone = zone
        self.since = at if self.since is None or at > self.since else self.since
        return move


def _entry_time(entry: list) -> int:
    return entry[0]

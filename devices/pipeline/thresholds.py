"""Threshold rules (pure): create and clear thresholds with hysteresis, a duration,
one alert per rule and subject.

A rule alerting ``above`` raises when the value has stayed at or above
``create`` for ``duration`` (by the samples' own times), keeps alerting while it
stays above ``clear`` and clears when it falls to ``clear`` or below; ``below``
mirrors it. A sample between the two thresholds while not alerting restarts the
duration. Samples older than the last one evaluated are history only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

RAISE = "raise"
UPDATE = "update"
CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    above: bool
    create: Decimal
    clear: Decimal
    duration_ms: int


@dataclass(slots=True)
class RuleStatus:
    breaching_since: int | None = None  # ms
    alerting: bool = False
    last_value: Decimal | None = None
    last_sample_at: int | None = None  # ms


@dataclass(frozen=True, slots=True)
class Transition:
    kind: str  # RAISE, UPDATE or CLEAR
    at: int  # ms
    value: Decimal
    since: int | None = None  # when the breach began (RAISE)


def evaluate(spec: RuleSpec, status: RuleStatus, samples: list[tuple[int, Decimal]]) -> list[Transition]:
    """Apply ``samples`` ((ms, value) sorted by time) to ``status``; return the alert
    transitions, consecutive updates coalesced into the last one."""
    out: list[Transition] = []
    for t, value in samples:
        if status.last_sample_at is not None and t <= status.last_sample_at:
            continue
        status.last_sample_at = t
        status.last_value = value
        if spec.above:
            breaching, cleared = value >= spec.create, value <= spec.clear
        else:
            breaching, cleared = value <= spec.create, value >= spec.clear
        if status.alerting:
            if cleared:
                status.alerting = False
                status.breaching_since = None
                out.append(Transition(CLEAR, t, value))
            elif out and out[-1].kind == UPDATE:
                out[-1] = Transition(UPDATE, t, value)
            else:
                out.append(Transition(UPDATE, t, value))
            continue
        if not breaching:
            status.breaching_since = None
            continue
        if status.breaching_since is None:
            status.breaching_since = t
        if t - status.breaching_since >= spec.duration_ms:
            status.alerting = True
            out.append(Transition(RAISE, t, value, since=status.breaching_since))
    return out

"""Template filters of the OEE pages: ``{{ ratio|pct }}`` ("76.3 %", "–" for None),
``{{ figures|loss:"equipment_failure" }}`` (minutes of one of the six big losses),
``{{ state.source|source_label }}`` and ``{{ stop|stop_by }}`` (where a state or a stop came from, in words)."""

from __future__ import annotations

from typing import Any

from django import template

from tracker.formatting import format_percent

register = template.Library()


@register.filter
def pct(value: Any) -> str:
    # One place, as on the OEE page: the overview pages show shares whole (``|percent``).
    return format_percent(value, 1)


@register.filter
def loss(figures: Any, key: str) -> float:
    return float(figures.losses_minutes().get(key, 0.0))


@register.filter
def state_label(state: str) -> str:
    return str(state).replace("_", " ").replace("idle ", "idle: ").capitalize()


#: Where a state came from, in words: the bare source ("(operator)") read as the person who set it
#: when shown next to who stopped the station.
SOURCE_LABELS = {
    "operator": "set at the station",
    "device": "signalled by the machine",
    "run": "from the work running here",
}


@register.filter
def source_label(source: str) -> str:
    return SOURCE_LABELS.get(str(source), "")


@register.filter
def stop_by(stop: Any) -> str:
    """Who or what stopped the station: the user who entered the stop, or the device that signalled it."""
    if stop is None:
        return ""
    if stop.source == "device":
        return f"signalled by {stop.device_ref or 'the machine'}"
    name = getattr(stop, "set_by_name", None)
    return f"entered by {name}" if name else "entered at the station"

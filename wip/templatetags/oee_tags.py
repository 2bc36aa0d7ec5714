"""Template filters of the OEE pages: ``{{ ratio|pct }}`` ("76.3 %", "–" for None),
``{{ figures|loss:"equipment_failure" }}`` (minutes of one of the six big losses)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: Any) -> str:
    if value is None:
        return "–"
    return f"{float(value) * 100:.1f} %"


@register.filter
def loss(figures: Any, key: str) -> float:
    return float(figures.losses_minutes().get(key, 0.0))


@register.filter
def state_label(state: str) -> str:
    return str(state).replace("_", " ").replace("idle ", "idle: ").capitalize()

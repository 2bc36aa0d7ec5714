"""Server-side inline SVG charts (no JavaScript, no CDN)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT, PAD = 600, 160, 24


def line_chart(series: list[tuple[dt.date, Decimal]]) -> dict[str, Any] | None:
    """Points for an SVG polyline of ``series`` plus axis labels; None if empty."""
    if not series:
        return None
    values = [float(v) for _, v in series]
    low, high = min(0.0, min(values)), max(values)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(series) - 1, 1)
    points = " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD):.1f}" for i, v in enumerate(values)
    )
    zero_y = HEIGHT - PAD - (0 - low) / span * (HEIGHT - 2 * PAD)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "pad": PAD,
        "points": points,
        "zero_y": f"{zero_y:.1f}",
        "max": Decimal(str(high)).normalize(),
        "min": Decimal(str(low)).normalize(),
        "first": series[0][0],
        "last": series[-1][0],
        "current": series[-1][1].normalize(),
        "right": WIDTH - PAD,
        "bottom": HEIGHT - PAD + 14,
    }

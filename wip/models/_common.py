"""Field sizes every wip model shares."""

from __future__ import annotations

from decimal import Decimal

from tracker.fields import DecimalSize

QTY: DecimalSize = {"max_digits": 14, "decimal_places": 4}
MINUTES: DecimalSize = {"max_digits": 10, "decimal_places": 3}
ZERO = Decimal("0")

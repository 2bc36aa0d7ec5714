"""Typing help shared by the apps' model and serializer declarations."""

from __future__ import annotations

from typing import TypedDict


class DecimalSize(TypedDict):
    """The size of a family of decimal fields, spread into each one (``DecimalField(**QTY)``).

    Typed so that mypy checks the spread against the field's parameters; a plain
    dict literal is ``dict[str, int]``, which mypy matches against every parameter.
    """

    max_digits: int
    decimal_places: int

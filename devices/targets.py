"""Finding what a tag can be assigned to, by natural key (inventory and wip own them)."""

from __future__ import annotations

from typing import Any


def find_target(*, kind: str, reference: str, site: Any, user: Any = None) -> Any | None:
    """The serial unit, lot or work order of ``site`` named ``reference``, or None."""
    return None

"""Alert kinds as people name them: ``wip.operation_overtime`` → "Step over its standard time".

The apps above ``tracker`` raise alerts with machine kinds; a kind that stands for
one of their rows (``threshold.<rule pk>``) is named by a namer they register here
(``register_kind_namer``), as they register navigation entries: ``tracker`` imports
none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

KIND_NAMES: dict[str, str] = {
    "wip.inspection_failed": "Inspection failed",
    "wip.operation_overtime": "Step over its standard time",
    "wip.queue_over_limit": "Station over its WIP limit",
    "wip.work_order_late": "Work order late",
    "stock.reorder": "Stock below its reorder point",
    "stock.expiring": "Lot expiring",
    "stock.low": "Stock low",
    "device.silent": "Device silent",
    "device.battery_low": "Battery low",
    "tag.missing": "Tag not seen",
    "webhook.endpoint_disabled": "Webhook endpoint disabled",
}

#: prefix (``"threshold."``) -> names for the kinds with that prefix (one query for all of them).
KindNamer = Callable[[list[str]], dict[str, str]]
_NAMERS: dict[str, KindNamer] = {}


def register_kind_namer(prefix: str, namer: KindNamer) -> None:
    _NAMERS[prefix] = namer


def _fallback(kind: str) -> str:
    return kind.replace("_", " ").replace(".", ": ", 1).capitalize()


def kind_names(kinds: Iterable[str]) -> dict[str, str]:
    """A human name for each of ``kinds``: the fixed names, then the registered namers
    (one call per prefix), else the kind made readable."""
    wanted = sorted(set(kinds))
    names = {kind: KIND_NAMES[kind] for kind in wanted if kind in KIND_NAMES}
    for prefix, namer in _NAMERS.items():
        mine = [kind for kind in wanted if kind.startswith(prefix) and kind not in names]
        if mine:
            names.update(namer(mine))
    return {kind: names.get(kind) or _fallback(kind) for kind in wanted}

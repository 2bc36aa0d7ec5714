"""Step 4 of the pipeline: call the owning services for the moves that happened.

Devices never decide business effects themselves (DESIGN.md section 2): a work
order (or its tote) settling in a workstation's zone arrives there through
``wip.services.operation_arrive``; a tagged serial unit or lot settling in a new
zone is transferred there through ``inventory.services.stock_transfer``;
containers and assets are tracked by their tag state only.

Only actual moves reach this module, never individual reads. Each effect runs in
a savepoint: a business rule refusing one (a lot on hold, a work order not
routed to that station) is recorded on the upload and leaves the other effects
of the upload in place; anything else aborts the whole upload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from devices.pipeline.resolve import Target, Zone
from tracker.errors import DomainError

MAX_ERRORS_KEPT = 50


@dataclass(frozen=True, slots=True)
class TagMove:
    tag_pk: int
    tag_id: str
    from_zone: Zone | None
    to_zone: Zone
    at: dt.datetime
    target: Target | None


@dataclass(slots=True)
class EffectContext:
    upload: Any
    counters: dict[str, int]
    errors: list[dict[str, str]] = field(default_factory=list)
    objects: dict[str, dict[int, Any]] = field(default_factory=dict)  # kind -> {pk: object}

    @property
    def reference(self) -> str:
        return f"upload:{self.upload.pk}"

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n


Handler = Callable[[TagMove, EffectContext], None]
#: target kind -> handler; filled by the integration functions below.
HANDLERS: dict[str, Handler] = {}
#: target kind -> bulk loader of the targets' objects ({pk: object}) for one upload.
LOADERS: dict[str, Callable[[set[int]], dict[int, Any]]] = {}


def apply_moves(*, moves: list[TagMove], ctx: EffectContext) -> None:
    """Apply the effects of ``moves`` in time order (each in its own savepoint)."""
    moves = sorted(moves, key=lambda m: (m.at, m.tag_id))
    wanted: dict[str, set[int]] = {}
    for move in moves:
        target = move.target
        if target is None or target.kind not in HANDLERS:
            continue
        pk = target.serial_id or target.lot_id or target.work_order_id
        if pk is not None:
            wanted.setdefault(target.kind, set()).add(pk)
    for kind, pks in wanted.items():
        loader = LOADERS.get(kind)
        if loader is not None:
            ctx.objects[kind] = loader(pks)
    for move in moves:
        target = move.target
        handler = HANDLERS.get(target.kind) if target is not None else None
        if handler is None:
            continue
        try:
            with transaction.atomic():
                handler(move, ctx)
        except DomainError as exc:
            ctx.count("effect_errors")
            if len(ctx.errors) < MAX_ERRORS_KEPT:
                ctx.errors.append(
                    {"tag": move.tag_id, "zone": move.to_zone.code, "target": target.label, "code": exc.code,
                     "detail": str(exc.detail)[:300]}
                )

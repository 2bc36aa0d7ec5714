"""Traceability: the one genealogy walker, and the trace trees built from it."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

from django.db.models import Q

from inventory.models import GenealogyLink, Item, Lot, SerialUnit, StockMove
from inventory.selectors.stock import traceable_serials

Direction = Literal["backward", "forward"]


#: (what the links of a node name it by, what they lead to, what to load with them) per direction
_SIDES: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    # here_lot, here_serial, next_lot, next_serial, select_related
    "backward": (
        "output_lot_id",
        "output_serial_id",
        "input_lot",
        "input_serial",
        ("input_item", "input_lot", "input_serial__item", "input_serial__lot"),
    ),
    "forward": (
        "input_lot_id",
        "input_serial_id",
        "output_lot",
        "output_serial",
        ("output_item", "output_lot", "output_serial__item", "output_serial__lot"),
    ),
}


NodeKey = tuple[str, int]  # ("l", lot id) or ("s", serial id)


@dataclasses.dataclass
class Genealogy:
    """What a walk reached: lot and serial ids, and each expanded node's links (by pk)."""

    lots: set[int]
    serials: set[int]
    links: dict[NodeKey, list[GenealogyLink]]


def genealogy_walk(
    *,
    lot_ids: Iterable[int] = (),
    serial_ids: Iterable[int] = (),
    direction: Direction,
    max_depth: int,
    lot_members: bool = False,
) -> Genealogy:
    """Walk genealogy links from lots/serials, ``backward`` (what went in) or ``forward``
    (what they went into): the one walker that trace and recall share. Unscoped.

    A node's links: for a lot, the lot-level links (no serial on that side); for a
    serial, its own links and the lot-level links of its lot. Breadth first, one
    query per level, each node expanded once (no cycles), nodes up to ``max_depth``
    links away from the start expanded. ``lot_members``: a lot's serial units are
    part of it, reached with it (a recall holds them too).
    """
    here_lot, here_serial, next_lot, next_serial, related = _SIDES[direction]
    lots, serials = set(lot_ids), set(serial_ids)
    if lot_members and lots:
        serials |= set(SerialUnit.objects.filter(lot_id__in=lots).values_list("pk", flat=True))
    frontier_lots, frontier_serials = set(lots), set(serials)
    found: dict[NodeKey, list[GenealogyLink]] = defaultdict(list)
    for _ in range(max_depth):
        if not frontier_lots and not frontier_serials:
            break
        lot_of = dict(SerialUnit.objects.filter(pk__in=frontier_serials, lot__isnull=False).values_list("pk", "lot_id"))
        members: dict[int, list[int]] = defaultdict(list)
        for serial_id, lot_id in lot_of.items():
            members[lot_id].append(serial_id)
        query = Q(**{f"{here_serial}__in": frontier_serials}) | Q(
            **{f"{here_lot}__in": frontier_lots | set(lot_of.values()), f"{here_serial}__isnull": True}
        )
        new_lots: set[int] = set()
        new_serials: set[int] = set()
        for link in GenealogyLink.objects.filter(query).select_related(*related).order_by("pk"):
            serial_id, lot_id = getattr(link, here_serial), getattr(link, here_lot)
            if serial_id is not None:
                found[("s", serial_id)].append(link)
            else:
                if lot_id in frontier_lots:
                    found[("l", lot_id)].append(link)
                for member in members.get(lot_id, ()):
                    found[("s", member)].append(link)
            to_serial, to_lot = getattr(link, f"{next_serial}_id"), getattr(link, f"{next_lot}_id")
            if to_serial is not None:
                new_serials.add(to_serial)
            # A serial's lot on the link is a node of its own only where lots stand for their serials.
            if to_lot is not None and (to_serial is None or lot_members):
                new_lots.add(to_lot)
        new_lots -= lots
        new_serials -= serials
        if lot_members and new_lots:
            new_serials |= set(SerialUnit.objects.filter(lot_id__in=new_lots).values_list("pk", flat=True)) - serials
        lots |= new_lots
        serials |= new_serials
        frontier_lots, frontier_serials = new_lots, new_serials
    return Genealogy(lots=lots, serials=serials, links=dict(found))


def _move_row(move: StockMove) -> dict[str, Any]:
    return {
        "kind": move.kind,
        "reference": move.reference,
        "reference_type": move.reference_type,
        "partner": move.partner,
        "quantity": str(move.quantity),
        "occurred_at": move.occurred_at.isoformat(),
        "from": move.source.code,
        "to": move.destination.code,
        "serial": move.serial.serial if move.serial is not None else None,
    }


class _Tracer:
    """Walks genealogy links; each node lists its relevant moves. Bounded depth, no cycles."""

    MAX_DEPTH = 20

    def __init__(self, user: Any):
        self.user = user
        self.visible_sites = None
        if not getattr(user, "is_superuser", False):
            from tracker.scoping import granted_site_ids

            self.visible_sites = set(granted_site_ids(user))

    def _moves(self, *, lot: Lot | None, serial: SerialUnit | None, kinds: list[str]) -> list[dict[str, Any]]:
        query = StockMove.objects.filter(kind__in=kinds).select_related("source", "destination", "serial")
        if serial is not None:
            query = query.filter(serial=serial)
        else:
            query = query.filter(lot=lot)
        if self.visible_sites is not None:
            query = query.filter(
                Q(source__site_id__in=self.visible_sites) | Q(destination__site_id__in=self.visible_sites)
            )
        return [_move_row(m) for m in query.order_by("occurred_at", "pk")[:200]]

    def _node(self, *, item: Item, lot: Lot | None, serial: SerialUnit | None) -> dict[str, Any]:
        node = {
            "type": "serial" if serial else "lot",
            "item": item.sku,
            "item_name": item.name,
            "unit": item.unit,
            "lot": lot.code if lot else None,
            "serial": serial.serial if serial else None,
        }
        if lot is not None:
            node["lot_status"] = lot.status
            node["expiry_date"] = lot.expiry_date.isoformat() if lot.expiry_date else None
        if serial is not None:
            node["serial_status"] = serial.status
        return node

    def walk(self, *, lot: Lot | None, serial: SerialUnit | None, direction: Direction) -> dict[str, Any]:
        """The trace tree from a lot/serial: ``genealogy_walk`` loads the links, then the tree is
        built depth first; a node reached again is listed without its children."""
        graph = genealogy_walk(
            lot_ids=[lot.pk] if serial is None and lot is not None else [],
            serial_ids=[serial.pk] if serial is not None else [],
            direction=direction,
            max_depth=self.MAX_DEPTH,
        )
        return self._tree(lot=lot, serial=serial, graph=graph, direction=direction, depth=0, seen=set())

    def _tree(
        self,
        *,
        lot: Lot | None,
        serial: SerialUnit | None,
        graph: Genealogy,
        direction: Direction,
        depth: int,
        seen: set[NodeKey],
    ) -> dict[str, Any]:
        item = serial.item if serial else lot.item  # type: ignore[union-attr]
        node = self._node(item=item, lot=lot, serial=serial)
        if direction == "backward":
            node["receipts"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.RECEIPT])
            node["produced"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.PRODUCE])
            node["inputs"] = []
        else:
            node["consumed"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.ISSUE])
            node["shipments"] = self._moves(lot=lot, serial=serial, kinds=[StockMove.Kind.SHIP])
            node["outputs"] = []
        key: NodeKey = ("s", serial.pk) if serial else ("l", lot.pk)  # type: ignore[union-attr]
        if key in seen or depth >= self.MAX_DEPTH:
            return node
        seen.add(key)
        for link in graph.links.get(key, []):
            if direction == "backward":
                if not (link.input_serial or link.input_lot):
                    continue
                child = self._tree(
                    lot=link.input_lot,
                    serial=link.input_serial,
                    graph=graph,
                    direction=direction,
                    depth=depth + 1,
                    seen=seen,
                )
                child["quantity"] = str(link.quantity) if link.quantity is not None else None
                child["work_order"] = link.reference
                node["inputs"].append(child)
            else:
                child = self._tree(
                    lot=link.output_lot if not link.output_serial else link.output_serial.lot,
                    serial=link.output_serial,
                    graph=graph,
                    direction=direction,
                    depth=depth + 1,
                    seen=seen,
                )
                child["work_order"] = link.reference
                node["outputs"].append(child)
        return node


def _check_trace_access(user: Any, lot: Lot | None, serial: SerialUnit | None) -> None:
    from tracker.errors import NotFound

    if serial is not None:
        ok = traceable_serials(user=user).filter(pk=serial.pk).exists()
    elif lot is not None:
        ok = Lot.objects.restrict(user, "view").filter(pk=lot.pk).exists()
    else:
        raise NotFound("Name a lot or a serial to trace.")
    if not ok:
        raise NotFound("No such lot or serial.")


def trace_backward(*, user: Any, lot: Lot | None = None, serial: SerialUnit | None = None) -> dict[str, Any]:
    """What went into this lot/serial, level by level, with its receipts (supplier, PO)."""
    _check_trace_access(user, lot, serial)
    return _Tracer(user).walk(lot=lot, serial=serial, direction="backward")


def trace_forward(*, user: Any, lot: Lot | None = None, serial: SerialUnit | None = None) -> dict[str, Any]:
    """Where this lot/serial went: work orders consuming it, outputs containing it, shipments."""
    _check_trace_access(user, lot, serial)
    return _Tracer(user).walk(lot=lot, serial=serial, direction="forward")

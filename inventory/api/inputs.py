"""Plain typed validation of the hot write bodies: a move and a receipt or shipment.

``MoveCreateSerializer`` and ``DocumentCreateSerializer`` stay the contract (the schema, the
error messages); what they cost per request is the problem: DRF deep-copies every declared
field into each new serializer and binds it, and each natural key is its own ORM query. Here
the serializers' own declared fields, built once with their classes and never bound, validate
the primitive values (so the rules and the cleaned values are the serializers'), and every
natural key of the body is resolved in one query (``inventory.selectors.keys``).

Only a body that is valid in full takes this path. Anything else (a value a field refuses, a
required field missing, a key that names nothing visible, a body of the wrong shape) returns
``None`` and the view runs the serializer, whose 400 names the field exactly as before. So
bad input costs what it did and good input costs much less, with one set of rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from inventory.api.serializers import MAX_LINES, DocumentCreateSerializer, LineSerializer, MoveCreateSerializer
from inventory.models import Item, Lot
from inventory.selectors.keys import NaturalKeys, natural_keys
from tracker.errors import ValidationFailed

#: Fields whose value is a natural key (resolved by ``natural_keys``), per body.
_MOVE_KEYS = {"item": "item", "location": "location", "source": "location", "destination": "location"}
_LINE_KEYS = {"item": "item", "location": "location"}


class _Invalid(Exception):
    """Not for the fast path: the serializer will say what is wrong."""


def _primitives(fields: Mapping[str, serializers.Field], data: Mapping[str, Any], skip: set[str]) -> dict[str, Any]:
    """``data`` through each field's ``run_validation``, as ``Serializer.to_internal_value`` does
    (a missing optional field is left out, or takes its default)."""
    out: dict[str, Any] = {}
    for name, field in fields.items():
        if name in skip:
            continue
        try:
            out[name] = field.run_validation(data.get(name, empty))
        except SkipField:
            continue
        except serializers.ValidationError as exc:
            raise _Invalid from exc
    return out


def _key(data: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    """A natural key's raw value: a plain string, or absent when allowed."""
    if name not in data:
        if required:
            raise _Invalid
        return None
    value = data[name]
    if not isinstance(value, str) or not value or "\x00" in value:
        raise _Invalid
    return value


def move_input(data: Any, user: Any) -> dict[str, Any] | None:
    """``MoveCreateSerializer``'s ``validated_data`` for a valid ``data``, else ``None``."""
    if not isinstance(data, Mapping):
        return None
    fields = MoveCreateSerializer._declared_fields
    try:
        out = _primitives(fields, data, skip=set(_MOVE_KEYS))
        raw = {name: _key(data, name, required=fields[name].required) for name in _MOVE_KEYS}
    except _Invalid:
        return None
    kind = out["kind"]
    lot_code = out.get("lot") if kind != "receive" else None
    keys = natural_keys(
        user=user,
        skus=[raw["item"]],
        location_codes=[v for k, v in raw.items() if k != "item" and v is not None],
        lots=[(raw["item"], lot_code)] if lot_code else [],
    )
    item = keys.items.get(raw["item"] or "")
    if item is None:
        return None
    for name in ("location", "source", "destination"):
        code = raw[name]
        if code is not None:
            if code not in keys.locations:
                return None
            out[name] = keys.locations[code]
    out["item"] = item
    # MoveCreateSerializer.validate: the kind's locations are required; the lot is resolved.
    needs = ("source", "destination") if kind == "transfer" else ("location",)
    if any(not out.get(name) for name in needs):
        return None
    if kind != "receive":
        if lot_code:
            lot = keys.lots.get((item.pk, lot_code))
            if lot is None:
                return None
            out["lot"] = lot
        else:
            out["lot"] = None
    return out


@dataclasses.dataclass
class DocumentInput:
    """A receipt or shipment body, validated, and its keys (for the shipment lines' lots)."""

    data: dict[str, Any]
    keys: NaturalKeys

    def lot(self, item: Item, code: str | None) -> Lot | None:
        """As ``serializers.lot_by_code``: the visible lot of ``item`` named ``code``, with the same
        error (a domain error on ``lot``, so a document names every bad line)."""
        if not code:
            return None
        lot = self.keys.lots.get((item.pk, code))
        if lot is None:
            raise ValidationFailed(f"No lot {code!r} of {item.sku}.", field="lot")
        return lot


def document_input(data: Any, user: Any, *, with_lots: bool) -> DocumentInput | None:
    """``DocumentCreateSerializer``'s ``validated_data`` for a valid ``data``, else ``None``.
    ``with_lots``: also resolve the lines' lot codes (a shipment's; a receipt's name new lots)."""
    if not isinstance(data, Mapping):
        return None
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines or len(lines) > MAX_LINES:
        return None
    doc_fields = DocumentCreateSerializer._declared_fields
    line_fields = LineSerializer._declared_fields
    try:
        out = _primitives(doc_fields, data, skip={"site", "lines"})
        site_code = _key(data, "site", required=True)
        parsed = []
        for line in lines:
            if not isinstance(line, Mapping):
                return None
            values = _primitives(line_fields, line, skip=set(_LINE_KEYS))
            raw = {name: _key(line, name, required=True) for name in _LINE_KEYS}
            parsed.append((values, raw))
    except _Invalid:
        return None
    keys = natural_keys(
        user=user,
        skus=[raw["item"] for _, raw in parsed],
        location_codes=[raw["location"] for _, raw in parsed],
        lots=[(raw["item"], v["lot"]) for v, raw in parsed if v.get("lot")] if with_lots else [],
        site_codes=[site_code],
    )
    site = keys.sites.get(site_code or "")
    if site is None:
        return None
    out["site"] = site
    out["lines"] = []
    for values, raw in parsed:
        item, location = keys.items.get(raw["item"] or ""), keys.locations.get(raw["location"] or "")
        if item is None or location is None:
            return None
        out["lines"].append({"item": item, "location": location, **values})
    return DocumentInput(data=out, keys=keys)

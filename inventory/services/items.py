"""Items: master data, audited."""

from __future__ import annotations

from typing import Any

from inventory import errors
from inventory.models import Item
from tracker.audit import audit_record
from tracker.transactions import service_atomic


@service_atomic
def item_create(*, sku: str, name: str, actor: Any = None, **fields: Any) -> Item:
    """Create an item (SKU unique, GTIN valid and unique), audited."""
    from django.core.exceptions import ValidationError

    if Item.objects.filter(sku=sku).exists():
        raise errors.Conflict(f"Item {sku!r} already exists.", code="duplicate", field="sku")
    item = Item(sku=sku, name=name, **fields)
    try:
        item.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise errors.InventoryError(messages[0], code="validation_failed", field=field) from exc
    item.save()
    audit_record(actor=actor, action="item.created", obj=item)
    return item


@service_atomic
def item_update(*, item: Item, actor: Any = None, **fields: Any) -> Item:
    """Change an item's master data (not its SKU), audited; thresholds re-checked later on the next move."""
    from django.core.exceptions import ValidationError

    item = Item.objects.select_for_update().get(pk=item.pk)
    changes = {}
    for name, value in fields.items():
        if name == "sku":
            continue
        old = getattr(item, name)
        if old != value:
            changes[name] = [str(old), str(value)]
            setattr(item, name, value)
    try:
        item.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise errors.InventoryError(messages[0], code="validation_failed", field=field) from exc
    item.save()
    if changes:
        audit_record(actor=actor, action="item.updated", obj=item, changes=changes)
    return item

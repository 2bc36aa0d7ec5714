"""CSV import of items and opening stock (with a dry run) and CSV export of levels and moves.

Imports run every row through the same services as the API, each row in a
savepoint, so the dry run reports exactly what a real run would refuse. If
any row is bad, or on a dry run, the whole import is rolled back: nothing is
imported. Exports neutralise cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_date

from inventory import services
from inventory.models import Item, StockLevel, StockMove
from tracker.errors import DomainError
from tracker.models import Location

ITEM_COLUMNS = [
    "sku",
    "name",
    "kind",
    "unit",
    "tracking",
    "gtin",
    "shelf_life_days",
    "reorder_point",
    "safety_stock",
    "reorder_quantity",
    "max_stock",
    "lead_time_days",
    "allow_negative",
    "standard_cost",
    "external_id",
]
STOCK_COLUMNS = ["sku", "location", "quantity", "lot", "expiry_date", "serials"]
MAX_ROWS = 20_000


@dataclasses.dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    dry_run: bool = True
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "imported": self.imported,
            "errors": self.errors,
        }


def _reader(text: str, required: list[str], report: ImportReport) -> list[dict[str, str]] | None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        report.errors.append({"row": 1, "field": None, "message": f"Missing column(s): {', '.join(missing)}."})
        return None
    rows = list(reader)
    if len(rows) > MAX_ROWS:
        report.errors.append({"row": None, "field": None, "message": f"At most {MAX_ROWS} rows per import."})
        return None
    return rows


def _decimal(value: str, field: str) -> Decimal | None:
    if value in ("", None):
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation as exc:
        raise DomainError(f"{value!r} is not a number.", code="validation_failed", field=field) from exc


def _int(value: str, field: str) -> int | None:
    number = _decimal(value, field)
    if number is None:
        return None
    if number != number.to_integral_value() or number < 0:
        raise DomainError(f"{value!r} is not a whole number.", code="validation_failed", field=field)
    return int(number)


def _item_fields(row: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": (row.get("name") or "").strip()}
    for name in ("kind", "unit", "tracking", "gtin", "external_id"):
        if row.get(name):
            fields[name] = row[name].strip()
    for name in ("reorder_point", "safety_stock", "reorder_quantity", "max_stock", "standard_cost"):
        value = _decimal(row.get(name, ""), name)
        if value is not None:
            fields[name] = value
    for name in ("shelf_life_days", "lead_time_days"):
        days = _int(row.get(name, ""), name)
        if days is not None:
            fields[name] = days
    if row.get("allow_negative"):
        fields["allow_negative"] = row["allow_negative"].strip().lower() in {"1", "true", "yes", "y"}
    return fields


def _run(rows: list[dict[str, str]], report: ImportReport, apply_row) -> None:
    with transaction.atomic():
        for number, row in enumerate(rows, start=2):  # row 1 is the header
            try:
                with transaction.atomic():
                    apply_row(row)
                report.imported += 1
            except DomainError as exc:
                report.errors.append({"row": number, "field": exc.field, "code": exc.code, "message": exc.detail})
        if report.errors or report.dry_run:
            transaction.set_rollback(True)
    if report.errors:
        report.imported = 0


def items_import(*, text: str, dry_run: bool, actor: Any = None) -> ImportReport:
    """Create or update items from CSV (columns ``ITEM_COLUMNS``; sku and name required).

    Guarantees: every bad row is reported (row number, field, message); if
    any row is bad, or on a dry run, nothing is written.
    """
    report = ImportReport(dry_run=dry_run)
    rows = _reader(text, ["sku", "name"], report)
    if rows is None:
        return report
    report.rows = len(rows)
    seen: set[str] = set()

    def apply_row(row: dict[str, str]) -> None:
        sku = (row.get("sku") or "").strip()
        if not sku:
            raise DomainError("SKU is required.", code="validation_failed", field="sku")
        if sku in seen:
            raise DomainError(f"SKU {sku!r} appears twice in the file.", code="duplicate", field="sku")
        seen.add(sku)
        fields = _item_fields(row)
        existing = Item.objects.filter(sku=sku).first()
        if existing:
            services.item_update(item=existing, actor=actor, **fields)
        else:
            services.item_create(sku=sku, actor=actor, **fields)

    _run(rows, report, apply_row)
    return report


def opening_stock_import(*, text: str, dry_run: bool, user: Any, actor: Any = None) -> ImportReport:
    """Book opening stock from CSV (columns ``STOCK_COLUMNS``): one receipt per row, reference OPENING.

    Locations must be ones ``user`` may see. Same all-or-nothing guarantee as ``items_import``.
    """
    report = ImportReport(dry_run=dry_run)
    rows = _reader(text, ["sku", "location", "quantity"], report)
    if rows is None:
        return report
    report.rows = len(rows)
    locations = Location.objects.restrict(user, "view")
    items = Item.objects.restrict(user, "view")

    def apply_row(row: dict[str, str]) -> None:
        item = items.filter(sku=(row.get("sku") or "").strip()).first()
        if item is None:
            raise DomainError(f"Unknown SKU {row.get('sku')!r}.", code="not_found", field="sku")
        location = locations.filter(code=(row.get("location") or "").strip()).first()
        if location is None:
            raise DomainError(f"Unknown location {row.get('location')!r}.", code="not_found", field="location")
        quantity = _decimal(row.get("quantity", ""), "quantity")
        if quantity is None:
            raise DomainError("Quantity is required.", code="invalid_quantity", field="quantity")
        expiry = None
        if row.get("expiry_date"):
            expiry = parse_date(row["expiry_date"].strip())
            if expiry is None:
                raise DomainError("expiry_date must be YYYY-MM-DD.", code="validation_failed", field="expiry_date")
        serials = [s for s in (row.get("serials") or "").replace(";", " ").split() if s]
        services.stock_receive(
            item=item,
            quantity=quantity,
            location=location,
            lot_code=(row.get("lot") or "").strip() or None,
            serials=serials or None,
            expiry_date=expiry,
            reference="OPENING",
            reference_type="adjustment",
            actor=actor,
        )

    _run(rows, report, apply_row)
    return report


# --- export ---------------------------------------------------------------------------

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell starting like a formula gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row])


def levels_csv(levels: Iterable[StockLevel]) -> Iterator[str]:
    header = ["site", "location", "sku", "item", "lot", "unit", "on_hand", "reserved", "available"]
    return _csv_rows(
        header,
        (
            [
                lv.site.code,
                lv.location.code,
                lv.item.sku,
                lv.item.name,
                lv.lot.code if lv.lot is not None else "",
                lv.item.unit,
                lv.on_hand,
                lv.reserved,
                lv.on_hand - lv.reserved,
            ]
            for lv in levels
        ),
    )


def moves_csv(moves: Iterable[StockMove]) -> Iterator[str]:
    header = [
        "id",
        "occurred_at",
        "kind",
        "sku",
        "quantity",
        "unit",
        "source",
        "destination",
        "lot",
        "serial",
        "reference",
        "reference_type",
        "partner",
        "external_id",
        "actor",
        "note",
    ]
    return _csv_rows(
        header,
        (
            [
                m.pk,
                m.occurred_at.isoformat(),
                m.kind,
                m.item.sku,
                m.quantity,
                m.item.unit,
                m.source.code,
                m.destination.code,
                m.lot.code if m.lot is not None else "",
                m.serial.serial if m.serial is not None else "",
                m.reference,
                m.reference_type,
                m.partner,
                m.external_id,
                m.actor.get_username() if m.actor is not None else "",
                m.note,
            ]
            for m in moves
        ),
    )

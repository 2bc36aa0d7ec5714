"""Master data and what stock is counted by: items, lots, serial units."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tracker.fields import DecimalSize
from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet

QTY: DecimalSize = {"max_digits": 18, "decimal_places": 4}


ZERO = Decimal("0")


def validate_gtin(value: str) -> None:
    """A GTIN-8/12/13/14 with a correct check digit (parsed by biip)."""
    if not value:
        return
    from biip.gtin import Gtin

    try:
        Gtin.parse(value)
    except Exception as exc:  # biip raises ParseError subclasses; any failure means invalid
        raise ValidationError(f"{value!r} is not a valid GTIN: {exc}") from exc


def normalise_gtin(value: str) -> str:
    """GTIN as 14 digits (the form GS1 barcodes carry in AI 01)."""
    if not value:
        return ""
    from biip.gtin import Gtin

    return Gtin.parse(value).as_gtin_14()


class ItemQuerySet(RestrictedQuerySet):
    """Items are global master data, not per site.

    ``restrict()``: a user sees (or changes) items when they hold the model
    permission *and* at least one site; a user without any site sees none,
    so a fresh account never browses the catalogue. Stock of an item is still
    scoped by site through ``StockLevel``/``StockMove``.
    """

    def site_q(self, site_ids: tuple[int, ...]) -> Q:
        return Q()  # every item, once the user holds a site (restrict() returns none without one)

    def active(self) -> Self:
        return self.filter(active=True)


class Item(models.Model):
    class Kind(models.TextChoices):
        RAW_MATERIAL = "raw_material", "Raw material"
        COMPONENT = "component", "Component"
        FINISHED_GOOD = "finished_good", "Finished good"
        CONSUMABLE = "consumable", "Consumable"

    class Tracking(models.TextChoices):
        NONE = "none", "None"
        LOT = "lot", "Lot"
        SERIAL = "serial", "Serial"

    class Unit(models.TextChoices):
        PCS = "pcs", "Pieces"
        KG = "kg", "Kilogram"
        G = "g", "Gram"
        T = "t", "Tonne"
        M = "m", "Metre"
        M2 = "m2", "Square metre"
        L = "l", "Litre"
        ML = "ml", "Millilitre"
        BOX = "box", "Box"

    #: units counted in whole numbers: a fractional quantity is a wrong_unit error
    DISCRETE_UNITS = frozenset({"pcs", "box"})

    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMPONENT)
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.PCS)
    gtin = models.CharField("GTIN", max_length=14, blank=True, validators=[validate_gtin])
    tracking = models.CharField(max_length=8, choices=Tracking.choices, default=Tracking.NONE)
    shelf_life_days = models.PositiveIntegerField(null=True, blank=True)
    reorder_point = models.DecimalField(**QTY, default=ZERO)
    safety_stock = models.DecimalField(**QTY, default=ZERO)
    reorder_quantity = models.DecimalField(**QTY, default=ZERO)
    max_stock = models.DecimalField(**QTY, null=True, blank=True, help_text="Order up to this level if set")
    lead_time_days = models.PositiveIntegerField(default=0)
    allow_negative = models.BooleanField(default=False)
    standard_cost = models.DecimalField(max_digits=14, decimal_places=4, default=ZERO)
    external_id = models.CharField(max_length=100, blank=True, db_index=True, help_text="ERP id")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ItemQuerySet.as_manager()
    site_path = None  # global master data: see ItemQuerySet.restrict

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["gtin"], condition=~Q(gtin=""), name="item_gtin_unique"),
            models.CheckConstraint(condition=Q(reorder_point__gte=0), name="item_reorder_point_gte_0"),
            models.CheckConstraint(condition=Q(safety_stock__gte=0), name="item_safety_stock_gte_0"),
            models.CheckConstraint(condition=Q(reorder_quantity__gte=0), name="item_reorder_quantity_gte_0"),
        ]

    def __str__(self) -> str:
        return self.sku

    def save(self, *args, **kwargs) -> None:
        if self.gtin:
            validate_gtin(self.gtin)
            self.gtin = normalise_gtin(self.gtin)
        super().save(*args, **kwargs)

    @property
    def is_lot_tracked(self) -> bool:
        return self.tracking == self.Tracking.LOT

    @property
    def is_serial_tracked(self) -> bool:
        return self.tracking == self.Tracking.SERIAL

    @property
    def is_discrete(self) -> bool:
        return self.unit in self.DISCRETE_UNITS or self.is_serial_tracked


class LotQuerySet(RestrictedQuerySet):
    """A lot is visible where it was made/received and where it has stock."""

    def site_q(self, site_ids: tuple[int, ...]) -> Q:
        from inventory.models.ledger import StockLevel  # defined after lots

        held = StockLevel.objects.filter(site__in=site_ids, lot__isnull=False).values("lot_id")
        return Q(site__in=site_ids) | Q(pk__in=held)


class Lot(models.Model):
    class Origin(models.TextChoices):
        SUPPLIER = "supplier_receipt", "Supplier receipt"
        WORK_ORDER = "work_order", "Work order"
        OPENING = "opening", "Opening stock"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        QUARANTINED = "quarantined", "Quarantined"
        ON_HOLD = "on_hold", "On hold"
        EXPIRED = "expired", "Expired"
        RECALLED = "recalled", "Recalled"

    #: statuses that block any outbound move but a return to supplier/scrap
    BLOCKED = frozenset({Status.QUARANTINED, Status.ON_HOLD, Status.RECALLED})

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(max_length=64)
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="+", help_text="Where it was received or made"
    )
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.SUPPLIER)
    origin_reference = models.CharField(max_length=100, blank=True)
    supplier = models.CharField(max_length=200, blank=True)
    manufactured_date = models.DateField(null=True, blank=True)
    expiry_date = models.DateField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    status_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LotQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["item", "code"]
        constraints = [models.UniqueConstraint(fields=["item", "code"], name="lot_code_unique_per_item")]

    def __str__(self) -> str:
        return self.code

    def is_expired(self, on=None) -> bool:
        today = on or timezone.localdate()
        return self.status == self.Status.EXPIRED or (self.expiry_date is not None and self.expiry_date < today)


class SerialUnit(models.Model):
    class Status(models.TextChoices):
        IN_STOCK = "in_stock", "In stock"
        IN_TRANSIT = "in_transit", "In transit"
        CONSUMED = "consumed", "Consumed"
        SHIPPED = "shipped", "Shipped"
        SCRAPPED = "scrapped", "Scrapped"
        ON_HOLD = "on_hold", "On hold"
        # Dispatched on a transfer order that was closed without it arriving: written off from
        # in-transit to the source site's adjustment location, where it stays until found.
        MISSING = "missing", "Missing in transit"

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="serials")
    serial = models.CharField(max_length=64)
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="serials")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_STOCK)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "location__site"

    class Meta:
        ordering = ["item", "serial"]
        constraints = [models.UniqueConstraint(fields=["item", "serial"], name="serial_unique_per_item")]
        indexes = [models.Index(fields=["serial"]), models.Index(fields=["location", "item"])]

    def __str__(self) -> str:
        return self.serial

"""Inventory: items, lots, serials, the stock ledger and its materialised levels.

The ledger (``StockMove``) is append-only and double-entry: every quantity
change is a move from one location to another (real or virtual). The current
quantity per (item, location, lot) is the ``StockLevel`` row that the same
transaction updates under a row lock (see ``inventory.locks``). Nothing but
``inventory.services`` writes moves or levels.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet

QTY = {"max_digits": 18, "decimal_places": 4}
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


# --- Master data -------------------------------------------------------------


class ItemQuerySet(RestrictedQuerySet):
    """Items are global master data, not per site.

    ``restrict()``: a user sees (or changes) items when they hold the model
    permission *and* at least one site; a user without any site sees none,
    so a fresh account never browses the catalogue. Stock of an item is still
    scoped by site through ``StockLevel``/``StockMove``.
    """

    def site_q(self, site_ids: tuple[int, ...]) -> Q:
        return Q()  # every item, once the user holds a site (restrict() returns none without one)

    def active(self) -> ItemQuerySet:
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


# --- Levels and the ledger ---------------------------------------------------


class StockLevelQuerySet(RestrictedQuerySet):
    def real(self) -> StockLevelQuerySet:
        """Levels at real locations (not in transit)."""
        return self.filter(location__is_virtual=False)

    def in_subtree(self, location: Location) -> StockLevelQuerySet:
        return self.filter(location__path__startswith=location.path)

    def nonzero(self) -> StockLevelQuerySet:
        return self.exclude(on_hand=0, reserved=0)


class StockLevel(models.Model):
    """On hand per (item, location, lot): a cache of the ledger, changed only with F()."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="levels")
    # Denormalised from location.site (never changes) so per-site sums need no join.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    on_hand = models.DecimalField(**QTY, default=ZERO)
    reserved = models.DecimalField(**QTY, default=ZERO, help_text="Reserved by location-pinned reservations")
    updated_at = models.DateTimeField(auto_now=True)

    objects = StockLevelQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["item", "location", "lot"]
        constraints = [
            # Two partial constraints instead of nulls_distinct=False: works on SQLite too.
            models.UniqueConstraint(
                fields=["item", "location", "lot"], condition=Q(lot__isnull=False), name="stocklevel_unique_with_lot"
            ),
            models.UniqueConstraint(
                fields=["item", "location"], condition=Q(lot__isnull=True), name="stocklevel_unique_without_lot"
            ),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_gte_0"),
        ]
        indexes = [
            models.Index(fields=["site", "item"]),
            models.Index(fields=["location", "item"]),
            models.Index(fields=["lot"]),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}@{self.location_id}/{self.lot_id}: {self.on_hand}"

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class ImmutableError(Exception):
    """A ledger row was about to be changed or deleted."""


class StockMoveQuerySet(RestrictedQuerySet):
    """Moves are visible from either end: a transfer between sites shows in both."""

    def site_q(self, site_ids: tuple[int, ...]) -> Q:
        return Q(source__site__in=site_ids) | Q(destination__site__in=site_ids)

    def update(self, **kwargs):
        raise ImmutableError("Stock moves are append-only.")

    def delete(self):
        raise ImmutableError("Stock moves are append-only.")

    def touching(self, location: Location) -> StockMoveQuerySet:
        return self.filter(Q(source=location) | Q(destination=location))


class StockMove(models.Model):
    """One quantity of one item (lot, serial) from ``source`` to ``destination``. Never edited."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        ISSUE = "issue", "Issue"
        PRODUCE = "produce", "Produce"
        TRANSFER = "transfer", "Transfer"
        ADJUST = "adjust", "Adjustment"
        SCRAP = "scrap", "Scrap"
        SHIP = "ship", "Shipment"
        COUNT = "count", "Count variance"

    class ReferenceType(models.TextChoices):
        NONE = "", "None"
        PURCHASE_ORDER = "purchase_order", "Purchase order"
        SALES_ORDER = "sales_order", "Sales order"
        WORK_ORDER = "work_order", "Work order"
        TRANSFER = "transfer", "Transfer"
        COUNT = "count", "Cycle count"
        ADJUSTMENT = "adjustment", "Adjustment"
        DEVICE = "device", "Device"
        EPCIS = "epcis", "EPCIS"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="moves")
    quantity = models.DecimalField(**QTY)
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="moves")
    serial = models.ForeignKey(SerialUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="moves")
    reference = models.CharField(max_length=100, blank=True)
    reference_type = models.CharField(max_length=16, choices=ReferenceType.choices, blank=True)
    partner = models.CharField(max_length=200, blank=True, help_text="Supplier or customer")
    external_id = models.CharField(max_length=100, blank=True, help_text="Partner's id of the line (ERP)")
    # All moves posted by one service call share a batch id (a transfer's two legs, a receipt's lines).
    batch = models.UUIDField(default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    objects = StockMoveQuerySet.as_manager()
    site_path = "source__site"

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="stockmove_quantity_gt_0"),
            models.CheckConstraint(
                condition=~Q(source=models.F("destination")), name="stockmove_source_ne_destination"
            ),
        ]
        indexes = [
            models.Index(fields=["item", "occurred_at"]),
            models.Index(fields=["source", "item", "occurred_at"]),
            models.Index(fields=["destination", "item", "occurred_at"]),
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["lot"]),
            models.Index(fields=["serial"]),
            models.Index(fields=["reference_type", "reference"]),
            models.Index(fields=["external_id"]),
            models.Index(fields=["batch"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} {self.item_id} {self.source_id}->{self.destination_id}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ImmutableError("Stock moves are append-only; post a correcting move instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Stock moves are append-only; post a correcting move instead.")


class StockDaily(models.Model):
    """What crossed a site's boundary per (site, item, UTC day of ``occurred_at``): the
    ledger rolled up for the reports (``inventory.stock_daily`` writes it, nothing else).

    Append-only like the ledger: each post adds one row per (site, item) whose flows it
    changes (``merged=False``) and a periodic merge folds a day's rows into one
    (``merged=True``), so no post ever updates a row another post needs. The sum of a
    key's rows equals the ledger's aggregation at every commit (``verify_ledger``).
    """

    # No single-column FK indexes: every read starts from (site, item, day).
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField(help_text="UTC date of the moves' occurred_at")
    inflow = models.DecimalField(**QTY, default=ZERO, help_text="Into the site's real locations from outside them")
    outflow = models.DecimalField(**QTY, default=ZERO, help_text="Out of the site's real locations to outside them")
    consumed = models.DecimalField(**QTY, default=ZERO, help_text="Issued or shipped from the site")
    last_out_at = models.DateTimeField(null=True, blank=True, help_text="Latest issue or shipment among them")
    merged = models.BooleanField(default=False, help_text="False: one post's flows, not merged into its day yet")

    class Meta:
        verbose_name_plural = "stock dailies"
        indexes = [
            models.Index(fields=["site", "item", "day"], name="stockdaily_site_item_day"),
            # Small: only rows waiting for the merge, which finds their keys through it.
            models.Index(fields=["site", "item", "day"], condition=Q(merged=False), name="stockdaily_unmerged"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.item_id}/{self.day}: +{self.inflow} -{self.outflow}"


class StockReservation(models.Model):
    """Stock promised to a work order or a shipment; lowers availability at the site."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONSUMED = "consumed", "Consumed"
        RELEASED = "released", "Released"

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="reservations")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY, help_text="Still reserved")
    quantity_requested = models.DecimalField(**QTY)
    reference = models.CharField(max_length=100)
    reference_type = models.CharField(max_length=16, default="work_order")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=0), name="reservation_quantity_gte_0")]
        indexes = [
            models.Index(fields=["reference_type", "reference", "item"]),
            models.Index(fields=["site", "item", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.quantity} {self.item_id}"


class GenealogyLink(models.Model):
    """Output lot/serial <- consumed lot/serial: what went into what."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    output_item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    output_lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="consumed_links")
    output_serial = models.ForeignKey(
        SerialUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="consumed_links"
    )
    input_item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    input_lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="output_links")
    input_serial = models.ForeignKey(
        SerialUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="output_links"
    )
    quantity = models.DecimalField(**QTY, null=True, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(output_lot__isnull=False) | Q(output_serial__isnull=False), name="genealogy_has_output"
            ),
        ]
        indexes = [models.Index(fields=["reference"])]


class Receipt(models.Model):
    """A purchase order's lines received in one request (the moves carry its reference)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, help_text="PO number")
    supplier = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    batch = models.UUIDField(db_index=True)
    received_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["reference"])]

    def __str__(self) -> str:
        return self.reference


class Shipment(models.Model):
    """A sales order's lines shipped in one request."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, help_text="SO number")
    customer = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    batch = models.UUIDField(db_index=True)
    shipped_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-shipped_at"]
        indexes = [models.Index(fields=["reference"])]

    def __str__(self) -> str:
        return self.reference


class CycleCount(models.Model):
    """Counted quantities for a location subtree; variances post as moves on approval."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        CANCELLED = "cancelled", "Cancelled"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"count {self.pk} at {self.location_id}"


class CycleCountLine(models.Model):
    count = models.ForeignKey(CycleCount, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    expected = models.DecimalField(**QTY, default=ZERO, help_text="On hand when the line was recorded")
    counted = models.DecimalField(**QTY, null=True, blank=True)
    counted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["count", "item", "location", "lot"], condition=Q(lot__isnull=False), name="countline_unique_lot"
            ),
            models.UniqueConstraint(
                fields=["count", "item", "location"], condition=Q(lot__isnull=True), name="countline_unique_nolot"
            ),
        ]

    @property
    def variance(self) -> Decimal | None:
        return None if self.counted is None else self.counted - self.expected


from inventory.forecasting.models import DemandForecast  # noqa: E402, F401  (forecasts live in their own module)

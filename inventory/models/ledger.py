"""The ledger (``StockMove``), its materialised levels, the daily rollup, reservations and genealogy."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from inventory.models.items import QTY, ZERO, Item, Lot, SerialUnit
from tracker.models import Location, Site
from tracker.scoping import RestrictedQuerySet


class StockLevelQuerySet(RestrictedQuerySet):
    def real(self) -> Self:
        """Levels at real locations (not in transit)."""
        return self.filter(location__is_virtual=False)

    def in_subtree(self, location: Location) -> Self:
        return self.filter(location__path__startswith=location.path)

    def nonzero(self) -> Self:
        return self.exclude(on_hand=0, reserved=0)


class StockLevel(models.Model):
    """On hand per (item, location, lot): a cache of the ledger, changed only with F()."""

    # No single-column index where one of Meta.indexes starts with the column: a second index
    # serves no query and makes every plan over levels weigh one more path.
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", db_index=False)
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="levels", db_index=False)
    # Denormalised from location.site (never changes) so per-site sums need no join.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", db_index=False)
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
            # The levels list's count of a subtree (inventory.selectors.level_page) reads only the
            # index: 36 entries per bin instead of every level of the site (0.57 -> 0.15 ms).
            models.Index(fields=["location", "site"], name="stocklevel_location_site"),
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

    def touching(self, location: Location) -> Self:
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
        EXCURSION = "excursion", "Excursion (quality decision)"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    # No single-column FK indexes: each of these columns leads one of Meta.indexes, and every
    # posting writes an entry into every index of the ledger (16 were 5 duplicates).
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="moves", db_index=False)
    quantity = models.DecimalField(**QTY)
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", db_index=False)
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", db_index=False)
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="moves", db_index=False)
    serial = models.ForeignKey(
        SerialUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="moves", db_index=False
    )
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

"""The core: sites, the location tree, alerts, the audit trail and API keys."""

from __future__ import annotations

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from tracker.scoping import RestrictedQuerySet


class Site(models.Model):
    """A plant or warehouse. Object permissions on a site scope every user."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC")
    gln = models.CharField("GLN", max_length=13, blank=True)
    # Per-site tuning (dispatch rule, device arbitration, alert thresholds).
    settings = models.JSONField(default=dict, blank=True)
    # Separation of duties on cycle counts: on by default (what an auditor expects, new and existing
    # sites alike); a one-person warehouse turns it off here. See inventory.services.counts.
    count_approval_by_other = models.BooleanField(
        "count variances approved by another person",
        default=True,
        help_text="A count's variances must be approved by someone other than the person who counted them.",
    )
    expected_transit_hours = models.PositiveIntegerField(
        default=48, help_text="How long a transfer to this site may travel before it is reported overdue"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "pk"

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def setting(self, key: str, default=None):
        return (self.settings or {}).get(key, default)


class SiteUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Site, on_delete=models.CASCADE)


class SiteGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Site, on_delete=models.CASCADE)


class LocationKind(models.TextChoices):
    AREA = "area", "Area"
    ZONE = "zone", "Zone"
    BIN = "bin", "Bin"
    WORKSTATION = "workstation", "Workstation"
    DOCK = "dock", "Dock"
    # Virtual locations: the world outside stock, for the double-entry ledger.
    SUPPLIER = "supplier", "Supplier (virtual)"
    CUSTOMER = "customer", "Customer (virtual)"
    PRODUCTION = "production", "Production / WIP (virtual)"
    SCRAP = "scrap", "Scrap (virtual)"
    ADJUSTMENT = "adjustment", "Inventory adjustment (virtual)"
    TRANSIT = "transit", "In transit (virtual)"


VIRTUAL_KINDS = frozenset(
    {
        LocationKind.SUPPLIER,
        LocationKind.CUSTOMER,
        LocationKind.PRODUCTION,
        LocationKind.SCRAP,
        LocationKind.ADJUSTMENT,
        LocationKind.TRANSIT,
    }
)


class LocationQuerySet(RestrictedQuerySet):
    def real(self) -> Self:
        return self.filter(is_virtual=False)

    def virtual(self) -> Self:
        return self.filter(is_virtual=True)

    def subtree(self, root: Location) -> Self:
        """The location and everything under it, by materialised path (one index range)."""
        return self.filter(path__startswith=root.path)


class Location(models.Model):
    """A place in a site's tree (area > zone > bin; workstations and docks too).

    ``path`` is the materialised path of primary keys (``/1/5/9/``) so a
    subtree is one ``LIKE 'prefix%'`` range scan. Codes are unique across all
    sites so they serve as natural keys in URLs and the API.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="locations")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=LocationKind.choices)
    is_virtual = models.BooleanField(default=False, editable=False)
    path = models.CharField(max_length=255, blank=True, editable=False, db_index=True)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    gln = models.CharField("GLN", max_length=13, blank=True)
    active = models.BooleanField(default=True)

    objects = LocationQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["path"]
        indexes = [
            models.Index(fields=["site", "kind"]),
            # LIKE 'prefix%' on PostgreSQL needs the pattern operator class.
            models.Index(fields=["path"], name="location_path_like", opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "kind"],
                condition=Q(kind__in=["supplier", "customer", "production", "scrap", "adjustment", "transit"]),
                name="one_virtual_location_per_kind_per_site",
            )
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs) -> None:
        self.is_virtual = self.kind in VIRTUAL_KINDS
        super().save(*args, **kwargs)
        path = f"{self.parent.path}{self.pk}/" if self.parent is not None else f"/{self.pk}/"
        depth = path.count("/") - 2
        if path != self.path or depth != self.depth:
            self.path, self.depth = path, depth
            type(self).objects.filter(pk=self.pk).update(path=path, depth=depth)

    def ancestors(self) -> LocationQuerySet:
        ids = [int(p) for p in self.path.strip("/").split("/") if p]
        return Location.objects.filter(pk__in=ids).order_by("depth")


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertQuerySet(RestrictedQuerySet):
    def open(self) -> Self:
        return self.filter(cleared_at__isnull=True)


class Alert(models.Model):
    """Something that needs attention. One open alert per (site, kind, subject)."""

    #: The kind as people say it ("Cold store above 8 °C"), set by the pages that list
    #: alerts from tracker.alert_kinds; not a column.
    kind_name: str

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    subject = models.CharField(max_length=200, help_text="Natural key of what the alert is about, e.g. item:SKU-1")
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    occurrences = models.PositiveIntegerField(default=1)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["site", "cleared_at", "-raised_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "kind", "subject"],
                condition=Q(cleared_at__isnull=True),
                name="one_open_alert_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class AuditEvent(models.Model):
    """Append-only record of who changed what, when. Never edited."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_repr = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_repr} {self.action} {self.object_repr}"


class ApiKeyScope(models.TextChoices):
    """What a partner key may do; views name the one they need (tracker/api/partner.py)."""

    READ_INVENTORY = "read_inventory", "Read inventory"
    WRITE_RECEIPTS_SHIPMENTS = "write_receipts_shipments", "Write receipts and shipments"
    WRITE_WORK_ORDERS = "write_work_orders", "Write work orders"
    EPCIS_CAPTURE = "epcis_capture", "EPCIS capture"
    WEBHOOKS = "webhooks", "Manage webhooks"


class ApiKey(models.Model):
    """A partner key. Only a SHA-256 of the secret is stored; shown once at creation.

    ``scopes`` (``ApiKeyScope`` values) limit what it may do, ``sites`` where:
    a key sees only those of its user's sites (no sites listed: all of them).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, blank=True)
    sites = models.ManyToManyField(
        Site, blank=True, related_name="+", help_text="Limit the key to these sites (empty: all the user's sites)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Flushed from a cache counter at most every API_KEY_TOUCH_SECONDS: not a write per request.
    use_count = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first answer to a create sent with an Idempotency-Key, replayed on retries."""

    owner = models.CharField(max_length=100, help_text="user:<id> or device:<id>")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_once")]


class UserProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    default_site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    phone = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"

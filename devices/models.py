"""Devices: readers, gateways, scanners, tags and sensors, and what their uploads became.

What is stored, on purpose (DESIGN.md section 8): the raw upload (``ReaderUpload``,
kept untouched), the *state* each tag is in (``TagState``: its current zone and a
compact arbitration window) and the state changes the pipeline caused through the
owning services. Individual reads are never stored as rows: a mid-size plant makes
tens of millions a day.
"""

from __future__ import annotations

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q

from tracker.models import Severity
from tracker.scoping import RestrictedQuerySet


def upload_format_choices() -> list[tuple[str, str]]:
    """The registered parsers (callable, so a new parser needs no migration)."""
    from devices.parsers import PARSERS

    return [("", "(none)")] + [(key, key) for key in sorted(PARSERS)]


class DeviceKind(models.TextChoices):
    GATEWAY = "gateway", "Gateway / edge agent"
    FIXED_READER = "fixed_reader", "Fixed RFID reader"
    BLE_GATEWAY = "ble_gateway", "BLE gateway"
    HANDHELD = "handheld", "Handheld scanner"
    TAG = "tag", "Tag (RFID, BLE beacon, label)"
    SENSOR = "sensor", "Environmental sensor"


#: Kinds that upload batches on a schedule: silence is measured in upload periods.
PERIODIC_UPLOADERS = frozenset({DeviceKind.GATEWAY, DeviceKind.BLE_GATEWAY})
#: Kinds that read tags with antennas (read points) of their own.
READER_KINDS = frozenset({DeviceKind.GATEWAY, DeviceKind.FIXED_READER, DeviceKind.BLE_GATEWAY})


class DeviceQuerySet(RestrictedQuerySet):
    def active(self) -> Self:
        return self.filter(active=True)


class Device(models.Model):
    """Anything that tells Shopfloor about the floor. ``device_id`` is the natural key."""

    site = models.ForeignKey("tracker.Site", on_delete=models.PROTECT, related_name="devices")
    device_id = models.CharField(
        max_length=100, unique=True, help_text="Natural key: the id printed on the device (or its tag id)."
    )
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=DeviceKind.choices)
    upload_format = models.CharField(
        max_length=32, blank=True, choices=upload_format_choices, help_text="Parser for this device's uploads."
    )
    reader_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="What the device calls itself inside its uploads (host name, MAC), "
        "so health reports and read points naming it map to this device.",
    )
    location = models.ForeignKey(
        "tracker.Location",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where it is installed (sensors, single-zone gateways).",
    )
    upload_period_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Expected seconds between uploads (gateways): silent after three periods."
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    battery_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    battery_voltage = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    firmware = models.CharField(max_length=100, blank=True)
    health = models.JSONField(default=dict, blank=True, help_text="Last health figures the device reported.")
    silent_since = models.DateTimeField(null=True, blank=True, editable=False)
    notes = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DeviceQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["device_id"]
        indexes = [models.Index(fields=["site", "kind"]), models.Index(fields=["site", "reader_name"])]

    def __str__(self) -> str:
        return self.device_id


class ReadPoint(models.Model):
    """An antenna port of a reader (or a whole gateway) and the zone it covers.

    Reads are matched first by ``reported_as`` (the read point string exactly as
    the upload names it, e.g. an EPCIS ``urn:epc:id:sgln:...`` or
    ``reader-host:2``), then by (device, port); ``port`` empty means the device
    as a whole (BLE gateways have no antenna ports).
    """

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="read_points")
    port = models.PositiveIntegerField(null=True, blank=True)
    reported_as = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=200, blank=True)
    location = models.ForeignKey(
        "tracker.Location",
        on_delete=models.PROTECT,
        related_name="read_points",
        help_text="The zone (or workstation) this antenna covers.",
    )
    active = models.BooleanField(default=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "device__site"

    class Meta:
        ordering = ["device", "port"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "port"], condition=Q(port__isnull=False), name="read_point_port_once"
            ),
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(port__isnull=True, reported_as=""),
                name="read_point_whole_device_once",
            ),
            models.UniqueConstraint(
                fields=["device", "reported_as"], condition=~Q(reported_as=""), name="read_point_reported_once"
            ),
        ]

    def __str__(self) -> str:
        where = self.reported_as or ("*" if self.port is None else str(self.port))
        return f"{self.device_id}:{where} -> {self.location_id}"


class ZoneSetting(models.Model):
    """Per-zone overrides of the site's arbitration settings (empty = site default)."""

    location = models.OneToOneField("tracker.Location", on_delete=models.CASCADE, related_name="arbitration")
    window_reads = models.PositiveIntegerField(null=True, blank=True)
    window_ms = models.PositiveIntegerField(null=True, blank=True)
    offset_db = models.FloatField(null=True, blank=True)
    hold_off_ms = models.PositiveIntegerField(null=True, blank=True)
    decay_db_per_ms = models.FloatField(null=True, blank=True)
    min_reads = models.PositiveIntegerField(null=True, blank=True)
    dwell_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "location__site"

    def __str__(self) -> str:
        return f"arbitration of {self.location_id}"


class DeviceKey(models.Model):
    """A device's secret. Only its SHA-256 is stored; the secret is shown once."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "device__site"

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.device_id} key {self.prefix}…"


class TagKind(models.TextChoices):
    RFID = "rfid", "RFID EPC"
    BLE = "ble", "BLE MAC"
    IBEACON = "ibeacon", "iBeacon"
    BARCODE = "barcode", "Barcode label"


def tag_kind_of(tag_id: str) -> str:
    if tag_id.startswith(("urn:epc:", "epc:hex:")):
        return TagKind.RFID
    if tag_id.startswith("ble:"):
        return TagKind.BLE
    if tag_id.startswith("ibeacon:"):
        return TagKind.IBEACON
    return TagKind.BARCODE


class Tag(models.Model):
    """A physical tag, by its canonical id (see ``devices.parsers.base.TagRead``).

    Rows are created the first time a tag is heard so its zone is already known
    when an admin assigns it; an unassigned tag also has an ``UnknownTag`` row.
    """

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="tags")
    tag_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=TagKind.choices)
    epc_hex = models.CharField(max_length=128, blank=True)
    notes = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["tag_id"]
        constraints = [models.UniqueConstraint(fields=["site", "tag_id"], name="tag_once_per_site")]

    def __str__(self) -> str:
        return self.tag_id


class TargetKind(models.TextChoices):
    SERIAL = "serial", "Serial unit"
    LOT = "lot", "Lot"
    WORK_ORDER = "work_order", "Work order (traveler or tote)"
    CONTAINER = "container", "Container (pallet, tote, bin)"
    ASSET = "asset", "Asset"


class TagAssignmentQuerySet(RestrictedQuerySet):
    def current(self) -> Self:
        return self.filter(valid_to__isnull=True)


class TagAssignment(models.Model):
    """What a tag tracks, for a period. A reusable tote gets a new row per work order;
    the open row (``valid_to`` empty) is the current one, the others are history."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="assignments")
    target_kind = models.CharField(max_length=16, choices=TargetKind.choices)
    serial = models.ForeignKey(
        "inventory.SerialUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="tag_assignments"
    )
    lot = models.ForeignKey(
        "inventory.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="tag_assignments"
    )
    work_order = models.ForeignKey(
        "wip.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="tag_assignments"
    )
    # Containers and assets are identified by a code (no model of their own).
    code = models.CharField(max_length=100, blank=True, help_text="Container or asset code (SSCC, GRAI, GIAI...).")
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    objects = TagAssignmentQuerySet.as_manager()
    site_path = "tag__site"

    class Meta:
        ordering = ["tag", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["tag"], condition=Q(valid_to__isnull=True), name="one_current_assignment"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="assignment_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(target_kind="serial", serial__isnull=False)
                | Q(target_kind="lot", lot__isnull=False)
                | Q(target_kind="work_order", work_order__isnull=False)
                | (Q(target_kind__in=["container", "asset"]) & ~Q(code="")),
                name="assignment_names_its_target",
            ),
        ]
        indexes = [models.Index(fields=["target_kind", "code"])]

    def __str__(self) -> str:
        return f"{self.tag_id} -> {self.target_kind}"

    @property
    def target_object(self):
        """The serial unit, lot or work order tracked (None for containers and assets)."""
        for name in ("serial", "lot", "work_order"):
            if getattr(self, f"{name}_id", None) is not None:
                return getattr(self, name)
        return None

    @property
    def target_label(self) -> str:
        return self.code or str(self.target_object or "")


class TagState(models.Model):
    """Where a tag is now, and the arbitration state that decided it (compact JSON)."""

    tag = models.OneToOneField(Tag, on_delete=models.CASCADE, primary_key=True, related_name="state")
    # Few indexes on purpose: every upload rewrites hundreds of these rows, and an update
    # that touches no indexed column is a HOT update on PostgreSQL (no index writes).
    # Site lookups use the (site, location) index.
    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+", db_index=False)
    location = models.ForeignKey("tracker.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    since = models.DateTimeField(null=True, blank=True, help_text="Time of the last committed move.")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    arbitration = models.JSONField(default=dict, blank=True)
    missing_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        indexes = [models.Index(fields=["site", "location"])]

    def __str__(self) -> str:
        return f"{self.tag_id} @ {self.location_id}"


class UploadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected"


class ReaderUpload(models.Model):
    """One upload, body kept exactly as received. Unique per (device, upload key)
    so a retried upload finds the original instead of being processed twice."""

    site = models.ForeignKey("tracker.Site", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="uploads")
    upload_key = models.CharField(max_length=255, help_text="key:<envelope id> or sha256:<body hash>")
    format = models.CharField(max_length=32, blank=True)
    body = models.BinaryField()
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField()
    received_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=UploadStatus.choices, default=UploadStatus.QUEUED)
    reason = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="Counters of what the upload produced.")
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["device", "upload_key"], name="upload_once_per_device")]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["site", "-received_at"]),
        ]

    def __str__(self) -> str:
        return f"upload {self.pk} from {self.device_id} ({self.status})"


class UnknownTag(models.Model):
    """A tag heard without an assignment: waiting for an admin to say what it is."""

    tag = models.OneToOneField(Tag, on_delete=models.CASCADE, primary_key=True, related_name="unknown")
    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+", db_index=False)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    reads = models.PositiveBigIntegerField(default=0)
    last_location = models.ForeignKey(
        "tracker.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    last_device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["site", "-last_seen_at"])]

    def __str__(self) -> str:
        return f"unknown {self.tag_id}"


class SensorSample(models.Model):
    """A measured value, stored by the time it was measured (not received)."""

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples")
    sensor_id = models.CharField(max_length=255)
    metric = models.CharField(max_length=64)
    value = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=16, blank=True)
    observed_at = models.DateTimeField()
    location = models.ForeignKey("tracker.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    upload = models.ForeignKey(ReaderUpload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            # A gateway re-sending a sample (new upload key, same measurement) stores it once.
            models.UniqueConstraint(fields=["site", "sensor_id", "metric", "observed_at"], name="sample_once")
        ]
        indexes = [models.Index(fields=["site", "metric", "-observed_at"])]

    def __str__(self) -> str:
        return f"{self.sensor_id} {self.metric}={self.value}"


class RuleScope(models.TextChoices):
    DEVICE = "device", "A device"
    ZONE = "zone", "A zone"
    ZONE_LOTS = "zone_lots", "The lots stored in a zone"


class RuleDirection(models.TextChoices):
    ABOVE = "above", "Alert when above"
    BELOW = "below", "Alert when below"


class ThresholdRule(models.Model):
    """Alert when ``metric`` crosses ``create_threshold`` for ``duration_s``; clear
    only when it is back past ``clear_threshold`` (hysteresis)."""

    site = models.ForeignKey("tracker.Site", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=64, help_text="temperature, humidity, battery_voltage, pressure, ...")
    scope = models.CharField(max_length=16, choices=RuleScope.choices)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey("tracker.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=8, choices=RuleDirection.choices, default=RuleDirection.ABOVE)
    create_threshold = models.DecimalField(max_digits=14, decimal_places=4)
    clear_threshold = models.DecimalField(max_digits=14, decimal_places=4)
    duration_s = models.PositiveIntegerField(default=0, help_text="How long the value must stay past the threshold.")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "site"

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(scope="device") | Q(device__isnull=False), name="device_rule_has_device"
            ),
            models.CheckConstraint(
                condition=Q(scope="device") | Q(location__isnull=False), name="zone_rule_has_location"
            ),
            models.CheckConstraint(
                condition=(Q(direction="above") & Q(clear_threshold__lte=models.F("create_threshold")))
                | (Q(direction="below") & Q(clear_threshold__gte=models.F("create_threshold"))),
                name="rule_hysteresis_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def alert_kind(self) -> str:
        return f"threshold.{self.pk}"


class ThresholdRuleState(models.Model):
    """Where one rule stands for one subject: since when it breaches, whether it alerts."""

    rule = models.ForeignKey(ThresholdRule, on_delete=models.CASCADE, related_name="states")
    subject = models.CharField(max_length=200)
    breaching_since = models.DateTimeField(null=True, blank=True)
    alerting = models.BooleanField(default=False)
    last_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    last_sample_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    site_path = "rule__site"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "subject"], name="rule_state_once_per_subject")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.subject}"


from devices.epcis.models import Containment, EpcisCapture, EpcisEvent  # noqa: E402, F401  (EPCIS capture rows)

"""Devices and where they read: readers, gateways, scanners, their read points, zone settings and keys."""

from __future__ import annotations

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q

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

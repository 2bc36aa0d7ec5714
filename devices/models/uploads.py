"""Raw reader uploads, kept untouched, and the tags they named that nobody knows yet."""

from __future__ import annotations

from django.db import models

from devices.models.readers import Device
from devices.models.tags import Tag
from tracker.scoping import RestrictedQuerySet


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

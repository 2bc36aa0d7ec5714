"""The event types partners may subscribe to."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "stock.changed",
    "receipt.posted",
    "shipment.posted",
    "workorder.released",
    "workorder.completed",
    "lot.recalled",
    "alert.raised",
    "alert.cleared",
)

EVENT_TYPE_CHOICES = [(t, t) for t in EVENT_TYPES]

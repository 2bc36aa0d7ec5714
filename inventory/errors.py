"""Inventory's domain errors: each names the rule broken (the API's problem ``code``)."""

from __future__ import annotations

from tracker.errors import Conflict, DomainError, NotFound, ValidationFailed


class InventoryError(ValidationFailed):
    code = "inventory_error"


class InvalidQuantity(ValidationFailed):
    code = "invalid_quantity"


class WrongUnit(ValidationFailed):
    code = "wrong_unit"


class LotRequired(ValidationFailed):
    code = "lot_required"


class LotNotAllowed(ValidationFailed):
    code = "lot_not_allowed"


class SerialRequired(ValidationFailed):
    code = "serial_required"


class SerialNotAllowed(ValidationFailed):
    code = "serial_not_allowed"


class SerialCountMismatch(ValidationFailed):
    code = "serial_count_mismatch"


class InvalidLocation(ValidationFailed):
    code = "invalid_location"


class ReasonRequired(ValidationFailed):
    code = "reason_required"


class ItemInactive(ValidationFailed):
    code = "item_inactive"


class UnknownObject(NotFound):
    code = "not_found"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class LotExpired(Conflict):
    code = "lot_expired"


class LotOnHold(Conflict):
    code = "lot_on_hold"


class SerialDuplicate(Conflict):
    code = "serial_duplicate"


class SerialNotAvailable(Conflict):
    code = "serial_not_available"


class LotItemMismatch(ValidationFailed):
    code = "lot_item_mismatch"


class CountNotOpen(Conflict):
    code = "invalid_transition"


class CountApprovalByCounter(DomainError):
    """The site wants count variances approved by someone other than who counted them."""

    code = "separation_of_duties"
    status = 403

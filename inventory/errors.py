"""Inventory's domain errors: each names the rule broken (the API's problem ``code``)."""

from __future__ import annotations

from collections.abc import Sequence

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


class LinesInvalid(ValidationFailed):
    """Some lines of a multi-line document (receipt, shipment) are bad: every bad line is named.

    The problem keeps the first bad line's ``code``, ``status`` and ``line`` (so a client
    that handled one bad line keeps working) and lists every bad line in ``line_errors``
    (``line``, ``code``, ``status``, ``field``, ``detail``) and in the field errors
    (``lines[<index>].<field>``).
    """

    def __init__(self, problems: Sequence[tuple[int, DomainError]]) -> None:
        ordered = sorted(problems, key=lambda pair: pair[0])
        if not ordered:
            raise ValueError("LinesInvalid needs at least one bad line")
        index, first = ordered[0]
        more = len(ordered) - 1
        detail = f"lines[{index}]: {first.detail}"
        if more:
            detail += f" (and {more} more bad line{'s' if more > 1 else ''})"
        line_errors = [
            {"line": i, "code": exc.code, "status": exc.status, "field": exc.field, "detail": exc.detail}
            for i, exc in ordered
        ]
        super().__init__(detail, code=first.code, line=index, line_errors=line_errors)
        self.status = first.status
        self.problems = ordered
        self.field_errors: dict[str, list[str]] = {}
        for i, exc in ordered:
            self.field_errors.setdefault(f"lines[{i}].{exc.field or 'non_field_errors'}", []).append(exc.detail)

    def shifted(self, positions: Sequence[int]) -> list[tuple[int, DomainError]]:
        """The problems with each line index mapped through ``positions`` (a sub-list's
        index -> the document's index)."""
        return [(positions[i], exc) for i, exc in self.problems]

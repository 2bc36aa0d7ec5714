"""Inventory: items, lots, serials, the stock ledger and its materialised levels.

The ledger (``StockMove``) is append-only and double-entry: every quantity
change is a move from one location to another (real or virtual). The current
quantity per (item, location, lot) is the ``StockLevel`` row that the same
transaction updates under a row lock (see ``inventory.locks``). Nothing but
``inventory.services`` writes moves or levels.
"""

from __future__ import annotations

from inventory.forecasting.models import DemandForecast  # forecasts live in their own module
from inventory.models.documents import CycleCount, CycleCountLine, Receipt, Shipment
from inventory.models.items import (
    QTY,
    ZERO,
    Item,
    ItemQuerySet,
    Lot,
    LotQuerySet,
    SerialUnit,
    normalise_gtin,
    validate_gtin,
)
from inventory.models.ledger import (
    GenealogyLink,
    ImmutableError,
    StockDaily,
    StockLevel,
    StockLevelQuerySet,
    StockMove,
    StockMoveQuerySet,
    StockReservation,
)
from inventory.models.transfers import TransferDiscrepancy, TransferLine, TransferOrder, TransferOrderQuerySet

__all__ = [
    "CycleCount",
    "CycleCountLine",
    "DemandForecast",
    "GenealogyLink",
    "ImmutableError",
    "Item",
    "ItemQuerySet",
    "Lot",
    "LotQuerySet",
    "QTY",
    "Receipt",
    "SerialUnit",
    "Shipment",
    "StockDaily",
    "StockLevel",
    "StockLevelQuerySet",
    "StockMove",
    "StockMoveQuerySet",
    "StockReservation",
    "TransferDiscrepancy",
    "TransferLine",
    "TransferOrder",
    "TransferOrderQuerySet",
    "ZERO",
    "normalise_gtin",
    "validate_gtin",
]

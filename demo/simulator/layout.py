"""The demo plant, as data: what ``seed_demo`` builds and what ``simulate`` drives.

One place so the seed and the simulator never disagree about a station code, a
reader's antenna or a tote's EPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SITE_CODE = "demo-plant"
SITE_NAME = "Demo Plant"
TIME_ZONE = "Europe/Berlin"
DEMO_PASSWORD = "shopfloor-demo"  # noqa: S105 - printed by seed_demo on purpose: a demo login
COMPANY_PREFIX = "9501101"  # GS1 company prefix of the example uploads (devices/tests/uploads)


@dataclass(frozen=True)
class Zone:
    code: str
    name: str
    kind: str  # tracker LocationKind
    parent: str | None = "DP"


@dataclass(frozen=True)
class Station:
    code: str
    name: str
    group: str
    capacity: int
    wip_limit: int | None
    # Processing time of one order in simulated minutes: (low, mode, high) of a triangular law.
    minutes: tuple[float, float, float]


@dataclass(frozen=True)
class Reader:
    device_id: str
    name: str
    kind: str  # devices DeviceKind
    upload_format: str
    reader_name: str  # what the device calls itself inside its uploads
    ports: dict[int | None, str]  # antenna port (None: the whole device) -> zone code
    upload_period_s: int | None = None


@dataclass(frozen=True)
class Sensor:
    device_id: str  # the canonical tag id the parser gives it: ble:<mac>
    mac: str
    name: str
    zone: str
    gateway: str


@dataclass(frozen=True)
class Component:
    sku: str
    name: str
    unit: str
    tracking: str
    zone: str
    lots: tuple[tuple[str, Decimal], ...]
    reorder_point: Decimal
    reorder_quantity: Decimal
    shelf_life_days: int | None = None


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    routing: tuple[str, ...]  # station codes in order
    bom: tuple[tuple[str, Decimal, int | None], ...]  # (component sku, per unit, operation sequence)
    inspection_at: str | None = "DP-TEST"
    mix: float = 1.0  # share of released orders


ZONES: tuple[Zone, ...] = (
    Zone("DP", "Plant floor", "area", parent=None),
    Zone("DP-RECV", "Receiving dock", "dock"),
    Zone("DP-STORES", "Stores", "zone"),
    Zone("DP-COLD", "Cold store", "zone"),
    Zone("DP-LINE", "Production line", "area"),
    Zone("DP-REWORK", "Rework bench", "zone"),
    Zone("DP-FG", "Finished goods", "zone"),
    Zone("DP-SHIP", "Shipping dock", "dock"),
)

#: Painting is the deliberate bottleneck: one booth, the longest cycle.
STATIONS: tuple[Station, ...] = (
    Station("DP-CUT", "Cutting", "cutting", 1, None, (4, 6, 9)),
    Station("DP-WELD", "Welding", "welding", 2, None, (8, 11, 15)),
    Station("DP-PAINT", "Painting", "painting", 1, 4, (10, 13, 18)),
    Station("DP-ASSY", "Assembly", "assembly", 2, None, (7, 10, 14)),
    Station("DP-TEST", "Test", "test", 1, None, (3, 5, 7)),
    Station("DP-PACK", "Packing", "packing", 1, None, (2, 4, 6)),
)

READERS: tuple[Reader, ...] = (
    Reader(
        "DP-ZR-DOCK",
        "Zebra FX9600 dock door",
        "fixed_reader",
        "zebra_iotc",
        "fx9600-dock",
        {1: "DP-RECV", 2: "DP-STORES", 3: "DP-FG", 4: "DP-SHIP"},
    ),
    Reader(
        "DP-ZR-LINE1",
        "Zebra FX9600 line 1",
        "fixed_reader",
        "zebra_iotc",
        "fx9600-line1",
        {1: "DP-CUT", 2: "DP-WELD", 3: "DP-PAINT", 4: "DP-REWORK"},
    ),
    Reader(
        "DP-IMP-LINE2",
        "Impinj R700 line 2",
        "fixed_reader",
        "impinj_iot",
        "impinj-14-46-36",
        {1: "DP-ASSY", 2: "DP-TEST", 3: "DP-PACK"},
    ),
    Reader(
        "DP-RUUVI-GW",
        "Ruuvi Gateway cold store",
        "ble_gateway",
        "ruuvi_gateway",
        "C8:25:2D:11:22:33",
        {None: "DP-COLD"},
        upload_period_s=10,
    ),
)

#: The welding cell's controller posts machine-state events (OEE: running, stopped, idle).
MACHINE_GATEWAY = "DP-WELD-PLC"
READERS = (
    *READERS,
    Reader(MACHINE_GATEWAY, "Welding cell controller", "gateway", "machine_state", "weld-plc", {}),
)

#: The site's stop-reason tree: (category code, name, ((code, name, state), ...)).
REASONS: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "mechanical",
        "Mechanical",
        (("jam", "Jam", "unplanned_stop"), ("breakdown", "Breakdown", "unplanned_stop")),
    ),
    (
        "material",
        "Material",
        (("shortage", "Shortage", "unplanned_stop"), ("wrong-part", "Wrong part", "unplanned_stop")),
    ),
    (
        "quality",
        "Quality",
        (("adjustment", "Adjustment", "unplanned_stop"), ("first-off", "First-off check", "changeover")),
    ),
    (
        "planned",
        "Planned",
        (("maintenance", "Planned maintenance", "planned_stop"), ("changeover", "Changeover", "changeover")),
    ),
)

#: Ideal cycle time per unit (OEE performance): the station's fastest order time
#: (``minutes[0]``) over the largest order (``model.Config.quantity``'s upper bound). An
#: order's time here does not grow with its units (the plant's timing, and painting as its
#: bottleneck, were tuned that way), so only this keeps every order's ideal time within its
#: fastest possible time, and performance at most 100 %.
IDEAL_UNITS_PER_ORDER = 12

SENSORS: tuple[Sensor, ...] = (
    Sensor("ble:d1:22:7a:05:3c:11", "D1:22:7A:05:3C:11", "RuuviTag cold store", "DP-COLD", "DP-RUUVI-GW"),
)

#: The cold store alarm: above 8 °C for 30 s raises it, back under 6 °C clears it; it holds the
#: lots inside (the adhesive) until a quality inspector releases or scraps them.
COLD_RULE = {
    "name": "Cold store above 8 °C",
    "metric": "temperature",
    "create": Decimal("8"),
    "clear": Decimal("6"),
    "duration_s": 30,
    "severity": "critical",
    "hold_contents": True,
}

#: Standard cost per unit (the site's currency) so stock value and ABC have something to add up.
STANDARD_COSTS: dict[str, Decimal] = {
    "DP-TUBE-30": Decimal("3.80"),
    "DP-SHEET-2": Decimal("12.50"),
    "DP-CASTER": Decimal("6.90"),
    "DP-SCREW-M6": Decimal("0.04"),
    "DP-PAINT-5015": Decimal("9.50"),
    "DP-BOX-L": Decimal("1.20"),
    "DP-ADHESIVE-2K": Decimal("38.00"),
    "DP-CART": Decimal("185.00"),
    "DP-SHELF": Decimal("120.00"),
    "DP-BENCH": Decimal("240.00"),
}

COMPONENTS: tuple[Component, ...] = (
    Component(
        "DP-TUBE-30",
        "Steel tube 30x2 mm",
        "m",
        "lot",
        "DP-STORES",
        (("TUBE-2611A", Decimal("900")), ("TUBE-2611B", Decimal("600"))),
        Decimal("400"),
        Decimal("1000"),
    ),
    Component(
        "DP-SHEET-2",
        "Steel sheet 2 mm",
        "pcs",
        "lot",
        "DP-STORES",
        (("SHEET-2610", Decimal("700")),),
        Decimal("250"),
        Decimal("500"),
    ),
    Component(
        "DP-CASTER",
        "Caster 100 mm",
        "pcs",
        "none",
        "DP-STORES",
        (("", Decimal("800")),),
        Decimal("300"),
        Decimal("800"),
    ),
    Component(
        "DP-SCREW-M6",
        "Screw M6x16",
        "pcs",
        "none",
        "DP-STORES",
        (("", Decimal("12000")),),
        Decimal("3000"),
        Decimal("10000"),
    ),
    Component(
        "DP-PAINT-5015",
        "Powder coat RAL 5015",
        "kg",
        "lot",
        "DP-STORES",
        (("RAL5015-44", Decimal("260")),),
        Decimal("120"),
        Decimal("200"),
    ),
    Component(
        "DP-BOX-L", "Carton large", "pcs", "none", "DP-STORES", (("", Decimal("420")),), Decimal("150"), Decimal("400")
    ),
    # Kept cold: the reason the cold store has a temperature alarm.
    Component(
        "DP-ADHESIVE-2K",
        "Two-part adhesive",
        "kg",
        "lot",
        "DP-COLD",
        (("ADH-2611", Decimal("40")), ("ADH-2609", Decimal("12"))),
        Decimal("20"),
        Decimal("40"),
        shelf_life_days=120,
    ),
)

PRODUCTS: tuple[Product, ...] = (
    Product(
        "DP-CART",
        "Tool cart",
        ("DP-CUT", "DP-WELD", "DP-PAINT", "DP-ASSY", "DP-TEST", "DP-PACK"),
        (
            ("DP-TUBE-30", Decimal("4.2"), 10),
            ("DP-SHEET-2", Decimal("2"), 10),
            ("DP-PAINT-5015", Decimal("0.6"), 30),
            ("DP-CASTER", Decimal("4"), 40),
            ("DP-SCREW-M6", Decimal("24"), 40),
            ("DP-BOX-L", Decimal("1"), 60),
        ),
        mix=0.5,
    ),
    Product(
        "DP-SHELF",
        "Shelf unit",
        ("DP-CUT", "DP-PAINT", "DP-ASSY", "DP-PACK"),
        (
            ("DP-SHEET-2", Decimal("5"), 10),
            ("DP-PAINT-5015", Decimal("0.9"), 20),
            ("DP-SCREW-M6", Decimal("32"), 30),
            ("DP-BOX-L", Decimal("1"), 40),
        ),
        inspection_at=None,
        mix=0.3,
    ),
    Product(
        "DP-BENCH",
        "Workbench",
        ("DP-CUT", "DP-WELD", "DP-PAINT", "DP-ASSY", "DP-TEST", "DP-PACK"),
        (
            ("DP-TUBE-30", Decimal("6.5"), 10),
            ("DP-PAINT-5015", Decimal("0.8"), 30),
            ("DP-SCREW-M6", Decimal("40"), 40),
            ("DP-BOX-L", Decimal("1"), 60),
        ),
        mix=0.2,
    ),
)

TOTES = 16
PALLETS = 3


def tote_epc(n: int) -> str:
    """GRAI-96 of returnable tote ``n`` (1-based): urn:epc:id:grai:9501101.00001.<5000+n>."""
    return f"urn:epc:id:grai:{COMPANY_PREFIX}.00001.{5000 + n}"


def pallet_epc(n: int) -> str:
    """SSCC-96 of pallet ``n`` (1-based)."""
    return f"urn:epc:id:sscc:{COMPANY_PREFIX}.{40 + n:010d}"


@dataclass(frozen=True)
class PalletPlan:
    epc: str
    component: str
    lot: str


#: Pallets carry the raw-material lots in stores: a pallet read in a new zone moves its lot's stock.
PALLET_LOTS: tuple[PalletPlan, ...] = (
    PalletPlan(pallet_epc(1), "DP-TUBE-30", "TUBE-2611A"),
    PalletPlan(pallet_epc(2), "DP-SHEET-2", "SHEET-2610"),
    PalletPlan(pallet_epc(3), "DP-ADHESIVE-2K", "ADH-2611"),
)

ROLE_USERS: dict[str, str] = {
    "plant manager": "manager",
    "planner": "planner",
    "supervisor": "supervisor",
    "operator": "operator",
    "warehouse clerk": "clerk",
    "quality inspector": "inspector",
    "viewer": "viewer",
    "partner": "partner",
}


def zone_of_port(reader: Reader, port: int | None) -> str:
    return reader.ports[port]


@dataclass
class Antenna:
    device_id: str
    upload_format: str
    reader_name: str
    port: int | None


def antenna_for_zone() -> dict[str, Antenna]:
    """{zone code: the antenna covering it} (each zone has exactly one in the demo)."""
    found: dict[str, Antenna] = {}
    for reader in READERS:
        for port, zone in reader.ports.items():
            found[zone] = Antenna(reader.device_id, reader.upload_format, reader.reader_name, port)
    return found


@dataclass
class DemoKeys:
    """device id -> secret key, as ``seed_demo`` stored them for the simulator."""

    keys: dict[str, str] = field(default_factory=dict)

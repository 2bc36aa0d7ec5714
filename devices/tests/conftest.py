"""The story plant of the example uploads (see devices/tests/uploads/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from devices.models import DeviceKind
from inventory.models import Item
from tests.factories.devices import DeviceFactory, ReadPointFactory, ZoneSettingFactory, device_with_key
from tests.factories.inventory import SerialItemFactory, receive
from tests.factories.tracker import LocationFactory, SiteFactory

GTIN_UNIT = "09501101530003"


@dataclass
class Story:
    site: object
    zones: dict
    unit_item: Item
    devices: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)


@pytest.fixture
def story(db):
    site = SiteFactory(code="story", settings={"devices": {"gs1_company_prefixes": ["9501101"]}})
    floor = LocationFactory(site=site, kind="area", code="FLOOR")
    zones = {
        code: LocationFactory(site=site, kind=kind, code=code, parent=floor)
        for code, kind in (
            ("STORES", "zone"),
            ("WS030-IN", "zone"),
            ("WS030-OUT", "zone"),
            ("QC01", "zone"),
            ("COLD", "zone"),
            ("DOCK2", "dock"),
        )
    }
    # QC and the dock take a single read (slow conveyors, portal readers): per-zone settings.
    ZoneSettingFactory(location=zones["QC01"], min_reads=1)
    ZoneSettingFactory(location=zones["DOCK2"], min_reads=1)
    unit_item = SerialItemFactory(sku="UNIT-A", gtin=GTIN_UNIT)
    receive(unit_item, zones["STORES"], 3, serials=["4711", "100001", "100002"])
    s = Story(site=site, zones=zones, unit_item=unit_item)

    def add(name, fmt, kind=DeviceKind.FIXED_READER, ports=None, whole=None, reported=None, **kw):
        device, secret = device_with_key(site=site, device_id=name, upload_format=fmt, kind=kind, **kw)
        for port, zone in (ports or {}).items():
            ReadPointFactory(device=device, port=port, location=zones[zone])
        if whole:
            ReadPointFactory(device=device, port=None, location=zones[whole])
        for reported_as, zone in (reported or {}).items():
            ReadPointFactory(device=device, port=None, reported_as=reported_as, location=zones[zone])
        s.devices[fmt] = device
        s.secrets[fmt] = secret
        return device

    add("FX9600-01", "zebra_iotc", ports={1: "WS030-IN", 2: "WS030-OUT"})
    add("R700-01", "impinj_iot", ports={1: "WS030-IN", 2: "WS030-OUT"}, reader_name="impinj-14-46-36")
    add("SPEEDWAY-QC", "impinj_speedway", ports={3: "QC01", 4: "DOCK2"})
    # An edge agent forwarding another reader's LLRP reports: the read points are the reader's.
    add("EDGE-01", "llrp_json", kind=DeviceKind.GATEWAY)
    reader = DeviceFactory(site=site, device_id="SPEEDWAY-R10", reader_name="SpeedwayR-10-EF-25", upload_format="")
    ReadPointFactory(device=reader, port=1, location=zones["WS030-IN"])
    ReadPointFactory(device=reader, port=2, location=zones["WS030-OUT"])
    add(
        "MINEW-G1",
        "minew_ble",
        kind=DeviceKind.BLE_GATEWAY,
        whole="COLD",
        reader_name="AC233FC0A1B2",
        upload_period_s=60,
    )
    add("RUUVI-GW", "ruuvi_gateway", kind=DeviceKind.BLE_GATEWAY, whole="COLD", reader_name="C8:25:2D:11:22:33")
    add("HH-TC52-0042", "gs1_scans", kind=DeviceKind.HANDHELD)
    add(
        "PARTNER-EPCIS",
        "epcis2",
        kind=DeviceKind.GATEWAY,
        reported={
            "urn:epc:id:sgln:9501101.00001.QC01": "QC01",
            "urn:epc:id:sgln:9501101.00001.COLD1": "COLD",
            "urn:epc:id:sgln:9501101.00001.DOCK2": "DOCK2",
        },
    )
    for sensor in ("ble:d1:22:7a:05:3c:11", "ble:e4:1a:9f:22:0b:7c"):
        DeviceFactory(site=site, device_id=sensor, kind=DeviceKind.SENSOR, upload_format="", location=zones["COLD"])
    return s

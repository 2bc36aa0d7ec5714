"""Build the demo plant through the owning services (idempotent).

Every object is looked up by its natural key first and created only if missing,
so a second run changes nothing. Device keys are shown once by design: the seed
keeps the simulator's copy in ``var/demo-keys.json`` (git-ignored) and makes a
new key only for a device whose stored key no longer authenticates.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from demo.simulator import layout
from demo.simulator.history import demand_history, second_site
from devices import services as device_services
from devices.models import Device, DeviceKey, ReadPoint, RuleScope, TagAssignment, ThresholdRule
from inventory import services as stock
from inventory.models import Item, Lot, StockLevel
from tracker import services as tracker_services
from tracker.keys import key_matches, split_key
from tracker.models import Location, Site
from wip import services as wip_services
from wip.models import (
    BillOfMaterials,
    BomLine,
    CheckItem,
    Operation,
    ReasonCode,
    Routing,
    WorkingHours,
    Workstation,
    WorkstationGroup,
)


def keys_path() -> Path:
    return Path(getattr(settings, "DEMO_KEYS_PATH", None) or Path(settings.BASE_DIR) / "var" / "demo-keys.json")


def load_keys(path: Path | None = None) -> dict[str, str]:
    path = path or keys_path()
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _store_keys(keys: dict[str, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(keys, indent=2, sort_keys=True))
    tmp.chmod(0o600)
    tmp.replace(path)


@dataclass
class SeedReport:
    site: Site
    created: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    keys_file: Path | None = None


def _location(
    site: Site, zone: layout.Zone | layout.Station, kind: str, parent: str | None, report: SeedReport
) -> Location:
    found = Location.objects.filter(code=zone.code).first()
    if found is not None:
        return found
    parent_loc = Location.objects.get(code=parent) if parent else None
    report.created.append(f"location {zone.code}")
    return tracker_services.location_create(site=site, code=zone.code, name=zone.name, kind=kind, parent=parent_loc)


def _site(report_created: list[str]) -> Site:
    site = Site.objects.filter(code=layout.SITE_CODE).first()
    if site is None:
        site = tracker_services.site_create(code=layout.SITE_CODE, name=layout.SITE_NAME, time_zone=layout.TIME_ZONE)
        report_created.append(f"site {site.code}")
    return site


def _stations(site: Site, report: SeedReport) -> dict[str, Workstation]:
    stations = {}
    for spec in layout.STATIONS:
        location = _location(site, spec, "workstation", "DP-LINE", report)
        group, _ = WorkstationGroup.objects.get_or_create(
            code=f"{layout.SITE_CODE}-{spec.group}", defaults={"site": site, "name": spec.name}
        )
        station = Workstation.objects.filter(location=location).first()
        if station is None:
            station = wip_services.workstation_create(
                location=location,
                name=spec.name,
                capacity=spec.capacity,
                wip_limit=spec.wip_limit,
                group=group,
                supply_location=Location.objects.get(code="DP-STORES"),
            )
            report.created.append(f"workstation {station.code}")
        stations[spec.code] = station
    # The demo plant runs three shifts, every day: the metrics' available time is the whole clock.
    if not WorkingHours.objects.filter(site=site, workstation__isnull=True).exists():
        WorkingHours.objects.bulk_create(
            [WorkingHours(site=site, weekday=d, start=dt.time(0, 0), end=dt.time(0, 0)) for d in range(7)]
        )
    return stations


def _items(site: Site, report: SeedReport) -> dict[str, Item]:
    items: dict[str, Item] = {}
    for spec in layout.COMPONENTS:
        item = Item.objects.filter(sku=spec.sku).first()
        if item is None:
            item = stock.item_create(
                sku=spec.sku,
                name=spec.name,
                unit=spec.unit,
                tracking=spec.tracking,
                kind=Item.Kind.COMPONENT,
                reorder_point=spec.reorder_point,
                reorder_quantity=spec.reorder_quantity,
                safety_stock=spec.reorder_point / 2,
                lead_time_days=5,
                shelf_life_days=spec.shelf_life_days,
                standard_cost=layout.STANDARD_COSTS[spec.sku],
            )
            report.created.append(f"item {item.sku}")
        items[spec.sku] = item
        location = Location.objects.get(code=spec.zone)
        if StockLevel.objects.filter(item=item, site=site).exists():
            continue
        for lot_code, quantity in spec.lots:
            expiry = None
            if spec.shelf_life_days:
                expiry = timezone.localdate() + dt.timedelta(
                    days=spec.shelf_life_days // (2 if lot_code.endswith("09") else 1)
                )
            stock.stock_receive(
                item=item,
                quantity=quantity,
                location=location,
                lot_code=lot_code or None,
                expiry_date=expiry,
                reference="PO-DEMO-0001",
                supplier="Demo Supplier GmbH",
            )
            report.created.append(f"stock {item.sku} {lot_code or ''} {quantity}")
    for n, spec in enumerate(layout.PRODUCTS, start=1):
        item = Item.objects.filter(sku=spec.sku).first()
        if item is None:
            item = stock.item_create(
                sku=spec.sku,
                name=spec.name,
                unit="pcs",
                tracking=Item.Tracking.LOT,
                kind=Item.Kind.FINISHED_GOOD,
                gtin=_gtin(f"0{layout.COMPANY_PREFIX}{n:05d}"),
                standard_cost=layout.STANDARD_COSTS[spec.sku],
            )
            report.created.append(f"item {item.sku}")
        items[spec.sku] = item
    return items


def _gtin(first13: str) -> str:
    digits = [int(c) for c in first13]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return first13 + str((10 - total % 10) % 10)


def _routings(site: Site, items: dict[str, Item], stations: dict[str, Workstation], report: SeedReport) -> None:
    for spec in layout.PRODUCTS:
        code = f"RT-{spec.sku}"
        routing = Routing.objects.filter(code=code).first()
        if routing is None:
            routing = Routing.objects.create(site=site, code=code, name=f"{spec.name} routing", item=items[spec.sku])
            for index, station_code in enumerate(spec.routing, start=1):
                station = stations[station_code]
                st = next(s for s in layout.STATIONS if s.code == station_code)
                # At the station's group, not the station: the order "arrives" where its tote is read.
                operation = Operation.objects.create(
                    routing=routing,
                    sequence=index * 10,
                    name=st.name,
                    group=station.group,
                    setup_minutes=st.minutes[0] / 2,
                    run_minutes_per_unit=st.minutes[1] / 10,
                    ideal_cycle_seconds=_ideal_seconds(st),
                    inspection_required=station_code == spec.inspection_at,
                )
                if operation.inspection_required:
                    CheckItem.objects.create(operation=operation, sequence=1, name="Function test", kind="pass_fail")
            report.created.append(f"routing {code}")
        bom_code = f"BOM-{spec.sku}"
        if not BillOfMaterials.objects.filter(code=bom_code).exists():
            bom = BillOfMaterials.objects.create(site=site, code=bom_code, item=items[spec.sku])
            BomLine.objects.bulk_create(
                [
                    BomLine(bom=bom, component=items[sku], quantity_per_unit=q, operation_sequence=seq)
                    for sku, q, seq in spec.bom
                ]
            )
            report.created.append(f"bom {bom_code}")


def _ideal_seconds(station: layout.Station, speed: float = 0.0) -> Decimal:
    """Ideal seconds per unit on the clock the plant will run by. The simulator in real
    time (``speed`` simulated seconds per real second) dates every run and state by
    the wall clock, so a 20-minute order takes 20 real seconds at speed 60: OEE's
    performance compares ideal time with that run time, so the ideal cycle is
    compressed by the same factor (a fast-forward, speed 0, dates in simulated time)."""
    seconds = station.minutes[0] * 60 / layout.IDEAL_UNITS_PER_ORDER
    if speed > 0:
        seconds /= speed
    return Decimal(str(round(seconds, 3)))


def _oee(site: Site, stations: dict[str, Workstation], report: SeedReport, speed: float = 0.0) -> None:
    """The stop-reason tree, and each operation's ideal cycle time on the clock the
    plant runs by (set again when the demo runs at another speed)."""
    for category, name, leaves in layout.REASONS:
        parent, created = ReasonCode.objects.get_or_create(site=site, code=category, defaults={"name": name})
        for code, leaf, state in leaves:
            ReasonCode.objects.get_or_create(
                site=site, code=code, defaults={"name": leaf, "parent": parent, "state": state}
            )
        if created:
            report.created.append(f"stop reasons {category}")
    for st in layout.STATIONS:
        ideal = _ideal_seconds(st, speed)
        changed = (
            Operation.objects.filter(routing__site=site, group=stations[st.code].group)
            .exclude(ideal_cycle_seconds=ideal)
            .update(ideal_cycle_seconds=ideal)
        )
        if changed:
            report.created.append(f"ideal cycle {st.code}: {ideal} s per unit")


def _devices(site: Site, report: SeedReport, keys: dict[str, str]) -> bool:
    """Readers, antennas, the sensor and its rule; returns whether ``keys`` changed."""
    changed = False
    for spec in layout.READERS:
        device = Device.objects.filter(device_id=spec.device_id).first()
        if device is None:
            device = Device.objects.create(
                site=site,
                device_id=spec.device_id,
                name=spec.name,
                kind=spec.kind,
                upload_format=spec.upload_format,
                reader_name=spec.reader_name,
                upload_period_s=spec.upload_period_s,
                location=Location.objects.get(code=next(iter(spec.ports.values()))) if None in spec.ports else None,
            )
            report.created.append(f"device {device.device_id}")
        for port, zone in spec.ports.items():
            location = Location.objects.get(code=zone)
            ReadPoint.objects.get_or_create(
                device=device,
                port=port,
                reported_as="",
                defaults={"location": location, "name": f"{spec.name} → {zone}"},
            )
        if not _key_works(keys.get(device.device_id), device):
            _, secret = device_services.device_key_create(device=device, name="demo simulator")
            keys[device.device_id] = secret
            changed = True
            report.created.append(f"key for {device.device_id}")
    for spec in layout.SENSORS:
        if not Device.objects.filter(device_id=spec.device_id).exists():
            Device.objects.create(
                site=site,
                device_id=spec.device_id,
                name=spec.name,
                kind="sensor",
                reader_name=spec.mac,
                location=Location.objects.get(code=spec.zone),
            )
            report.created.append(f"sensor {spec.device_id}")
    cold = Location.objects.get(code="DP-COLD")
    rule = layout.COLD_RULE
    existing = ThresholdRule.objects.filter(site=site, name=rule["name"])
    if existing.filter(hold_contents=not rule["hold_contents"]).update(hold_contents=rule["hold_contents"]):
        report.created.append("threshold rule (cold store) holds its contents")
    if not existing.exists():
        ThresholdRule.objects.create(
            site=site,
            name=rule["name"],
            metric=rule["metric"],
            scope=RuleScope.ZONE,
            location=cold,
            direction="above",
            create_threshold=rule["create"],
            clear_threshold=rule["clear"],
            duration_s=rule["duration_s"],
            severity=rule["severity"],
            hold_contents=rule["hold_contents"],
        )
        report.created.append("threshold rule (cold store)")
    return changed


def _key_works(secret: str | None, device: Device) -> bool:
    if not secret:
        return False
    parts = split_key(secret)
    if parts is None:
        return False
    key = DeviceKey.objects.filter(prefix=parts[1], device=device, revoked_at__isnull=True).first()
    return key is not None and key_matches(secret, key.hashed_key)


def _tags(site: Site, report: SeedReport) -> None:
    """Pallets carry lots (their reads move the lot's stock); totes are containers until
    the simulator assigns one to a work order."""
    for plan in layout.PALLET_LOTS:
        if TagAssignment.objects.filter(tag__site=site, tag__tag_id=plan.epc).exists():
            continue
        lot = Lot.objects.get(item__sku=plan.component, code=plan.lot)
        device_services.tag_assign(site=site, tag_id=plan.epc, target_kind="lot", lot=lot, note="demo pallet")
        report.created.append(f"pallet tag {plan.epc}")
    for n in range(1, layout.TOTES + 1):
        epc = layout.tote_epc(n)
        if TagAssignment.objects.filter(tag__site=site, tag__tag_id=epc).exists():
            continue
        device_services.tag_assign(
            site=site, tag_id=epc, target_kind="container", code=f"TOTE-{n:02d}", note="demo tote"
        )
        report.created.append(f"tote tag {epc}")


def _users(site: Site, report: SeedReport) -> None:
    User = get_user_model()
    admin = User.objects.filter(username="admin").first()
    if admin is None:
        admin = User.objects.create_superuser(
            username="admin", email="admin@example.com", password=layout.DEMO_PASSWORD
        )
        report.created.append("user admin")
    report.logins.append(("admin", "superuser (Django admin)"))
    for role, username in layout.ROLE_USERS.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username, password=layout.DEMO_PASSWORD)
            group = Group.objects.filter(name=role).first()
            if group is not None:
                user.groups.add(group)
            tracker_services.site_grant_access(site=site, user=user)
            report.created.append(f"user {username}")
        report.logins.append((username, role))


@transaction.atomic
def seed(*, keys_file: Path | None = None, speed: float = 0.0) -> SeedReport:
    """Create whatever of the demo plant is missing; return what was created and the logins.
    ``speed``: the simulated seconds per real second the simulator will run at (0: a
    fast-forward dated in simulated time); ideal cycle times follow that clock."""
    created: list[str] = []
    site = _site(created)
    report = SeedReport(site=site, created=created)
    for zone in layout.ZONES:
        _location(site, zone, zone.kind, zone.parent, report)
    stations = _stations(site, report)
    items = _items(site, report)
    _routings(site, items, stations, report)
    _oee(site, stations, report, speed)
    path = keys_file or keys_path()
    keys = load_keys(path)
    if _devices(site, report, keys):
        # Written now, not on commit: a rolled-back seed leaves keys that no longer
        # authenticate, and the next run replaces them (see _key_works).
        _store_keys(keys, path)
    report.keys_file = path
    _tags(site, report)
    _users(site, report)
    # After the users: the second site is granted to some of them; after the stock: the
    # history's receipt comes before the stock on hand today.
    second_site(created=created)
    demand_history(site=site, created=created)
    return report


def demo_user(username: str = "operator") -> Any:
    return get_user_model().objects.filter(username=username).first()

"""Factories of the devices app: devices with keys and read points, tags and rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from devices import services
from devices.models import (
    Device,
    DeviceKind,
    ReaderUpload,
    ReadPoint,
    Tag,
    TagAssignment,
    TargetKind,
    ThresholdRule,
    ZoneSetting,
    tag_kind_of,
)
from tests.factories.tracker import LocationFactory, SiteFactory


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    site = factory.SubFactory(SiteFactory)
    device_id = factory.Sequence(lambda n: f"RDR-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Reader {o.device_id}")
    kind = DeviceKind.FIXED_READER
    upload_format = "zebra_iotc"


class ZoneFactory(LocationFactory):
    kind = "zone"


class ReadPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadPoint

    device = factory.SubFactory(DeviceFactory)
    port = factory.Sequence(lambda n: n % 8 + 1)
    location = factory.LazyAttribute(lambda o: ZoneFactory(site=o.device.site))


class ZoneSettingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZoneSetting


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    site = factory.SubFactory(SiteFactory)
    tag_id = factory.Sequence(lambda n: f"epc:hex:E2000000{n:016X}")
    kind = factory.LazyAttribute(lambda o: tag_kind_of(o.tag_id))


class TagAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagAssignment

    tag = factory.SubFactory(TagFactory)
    target_kind = TargetKind.CONTAINER
    code = factory.Sequence(lambda n: f"TOTE-{n:04d}")
    valid_from = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))


class ReaderUploadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReaderUpload

    device = factory.SubFactory(DeviceFactory)
    site = factory.LazyAttribute(lambda o: o.device.site)
    upload_key = factory.Sequence(lambda n: f"key:test-{n}")
    format = factory.LazyAttribute(lambda o: o.device.upload_format)
    body = b"[]"
    size = factory.LazyAttribute(lambda o: len(o.body))
    received_at = factory.LazyFunction(timezone.now)


class ThresholdRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ThresholdRule

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    metric = "temperature"
    scope = "zone"
    direction = "above"
    create_threshold = Decimal("8")
    clear_threshold = Decimal("6")
    duration_s = 0
    severity = "warning"


def device_with_key(**kwargs) -> tuple[Device, str]:
    """A device and the secret of a fresh key for it."""
    device = DeviceFactory(**kwargs)
    _, secret = services.device_key_create(device=device, name="test")
    return device, secret

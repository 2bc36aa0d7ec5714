"""Overlapping excursions: a lot or serial held by two open excursions is released only when
the last of them releases it, and never while a hold for another reason stands."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from devices.excursions.services import RELEASE, SCRAP, excursion_decide, excursion_open
from devices.models import Excursion, ExcursionEntry
from devices.tests.test_excursions import ColdStore, _at
from inventory import services as inventory
from inventory.models import SerialUnit
from tests.factories.devices import ThresholdRuleFactory
from tests.factories.tracker import user_with_role
from tracker.services import alert_raise

pytestmark = pytest.mark.django_db


class TwoExcursions:
    """The cold store's temperature excursion (its zone: M-1 in its bin, M-2, SN-1, SN-2), and
    a humidity excursion on the bin alone, opened while the first is open (M-1, SN-1, SN-2)."""

    def __init__(self, site) -> None:
        self.cold = ColdStore(site)
        self.cold.push((0, 9), (60, 9))
        self.first = Excursion.objects.get()
        rule = ThresholdRuleFactory(
            site=site, scope="zone", location=self.cold.bin, metric="humidity", hold_contents=True, name="Damp bin"
        )
        alert, _ = alert_raise(site=site, kind="threshold.humidity", subject=f"rule:{rule.pk}", message="damp")
        self.second = excursion_open(
            rule=rule, alert=alert, started_at=_at(30), raised_at=_at(90), reading={"at": "x", "value": "91"}
        )
        self.inspector = user_with_role("quality inspector", site)

    def entries(self, excursion: Excursion, *codes: str) -> list[ExcursionEntry]:
        return [
            excursion.entries.get(kind="held", **({"serial__serial": c} if c.startswith("SN") else {"lot__code": c}))
            for c in codes
        ]

    def decide(self, excursion: Excursion, decision: str, *codes: str) -> None:
        excursion_decide(
            excursion=excursion, entries=self.entries(excursion, *codes), decision=decision, actor=self.inspector
        )

    def status(self, code: str) -> str:
        if code.startswith("SN"):
            return SerialUnit.objects.get(serial=code).status
        return self.cold.lot(code).status


@pytest.fixture
def two(site_a) -> TwoExcursions:
    return TwoExcursions(site_a)


def test_the_second_excursion_records_the_status_before_the_first_hold(two):
    held = {
        (e.lot.code if e.lot else e.serial.serial): e.prior_status
        for e in two.second.entries.filter(kind="held").select_related("lot", "serial")
    }
    assert held == {"M-1": "available", "SN-1": "in_stock", "SN-2": "in_stock"}


def test_releasing_the_first_keeps_what_the_second_still_holds(two):
    two.decide(two.first, RELEASE, "M-1", "M-2", "SN-1", "SN-2")
    assert two.status("M-2") == "available"  # only the first held it
    assert {c: two.status(c) for c in ("M-1", "SN-1", "SN-2")} == {
        "M-1": "on_hold",
        "SN-1": "on_hold",
        "SN-2": "on_hold",
    }
    two.decide(two.second, RELEASE, "M-1", "SN-1")
    assert two.status("M-1") == "available" and two.status("SN-1") == "in_stock"
    assert two.status("SN-2") == "on_hold"  # its entry in the second excursion is still pending
    call_command("verify_ledger")


def test_releasing_the_second_first_keeps_the_first_hold_until_it_is_released(two):
    two.decide(two.second, RELEASE, "M-1", "SN-1")
    assert two.status("M-1") == "on_hold" and two.status("SN-1") == "on_hold"
    two.decide(two.first, RELEASE, "M-1", "SN-1")
    assert two.status("M-1") == "available" and two.status("SN-1") == "in_stock"


def test_a_hold_for_another_reason_outlives_both_excursions(two):
    inventory.lot_set_status(lot=two.cold.lot("M-1"), status="on_hold", reason="QA: supplier complaint")
    two.decide(two.first, RELEASE, "M-1")
    two.decide(two.second, RELEASE, "M-1")
    assert two.status("M-1") == "on_hold"
    assert two.cold.lot("M-1").status_reason == "QA: supplier complaint"


def test_a_scrap_by_the_first_leaves_the_lot_held_as_a_lone_excursion_would(two):
    two.decide(two.first, SCRAP, "M-1")
    two.decide(two.second, RELEASE, "M-1")
    assert two.status("M-1") == "on_hold"  # the first excursion's hold stands after its scrap
    call_command("verify_ledger")

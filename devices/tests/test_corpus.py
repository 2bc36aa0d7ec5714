"""Every body of the corpus (devices/tests/corpus/<format>/, built from vendor documents:
see each folder's NOTES.md), posted through the upload endpoint with its device's key,
gives the result its ``.expected.json`` names; a retried post takes effect once; a
rejected body leaves the stored upload and its reason, nothing else."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from devices.models import ReaderUpload, SensorSample, Tag, TagState, UploadStatus
from devices.tests.helpers import post_upload
from inventory.models import StockLevel, StockMove
from tests.factories.inventory import LotItemFactory
from tests.factories.tracker import LocationFactory

pytestmark = pytest.mark.django_db
CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = sorted(
    p
    for p in CORPUS.glob("*/*")
    # EPCIS documents go to /api/v1/epcis/capture, not the upload endpoint: test_epcis_corpus.py posts them.
    if p.parent.name != "epcis" and p.suffix != ".md" and not p.name.endswith(".expected.json")
)


def _expected(body: Path) -> dict:
    return json.loads(body.with_name(body.name.rsplit(".", 1)[0] + ".expected.json").read_text())


def _world() -> tuple:
    return (
        Tag.objects.count(),
        TagState.objects.exclude(last_seen_at=None).count(),
        SensorSample.objects.count(),
        StockMove.objects.count(),
    )


@pytest.fixture
def plant(story):
    story.site.gln = "9501101000018"
    story.site.save()
    LocationFactory(site=story.site, kind="bin", code="B-01", parent=story.zones["STORES"])
    LotItemFactory(sku="RESIN", gtin="09501101530010")
    return story


def test_every_format_has_four_bodies_two_malformed() -> None:
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir() and p.name != "epcis"):
        cases = [c for c in CASES if c.parent == folder]
        rejected = [c for c in cases if _expected(c)["status"] == "rejected"]
        assert len(cases) >= 4 and len(rejected) >= 2, folder.name
        assert (folder / "NOTES.md").exists(), folder.name


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_body(plant, path: Path, django_capture_on_commit_callbacks) -> None:
    fmt, expected = path.parent.name, _expected(path)
    body = path.read_bytes()
    before = _world()
    answers = []
    for _ in range(2):  # the second post is a retry: same upload, no second effect
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(post_upload(body, plant.secrets[fmt], content_type=expected["content_type"]))
    assert [a.status_code for a in answers] == [202, 200], answers[0].content
    upload = ReaderUpload.objects.get(pk=answers[0].json()["id"])
    assert ReaderUpload.objects.count() == 1 and upload.attempts == 1
    assert upload.status == expected["status"], upload.reason
    if upload.status == UploadStatus.REJECTED:
        assert expected["reason"] in upload.reason
        assert _world() == before
        return
    result = upload.result
    for key in ("reads", "tags", "samples", "health", "scan_receives"):
        if key in expected:
            assert result.get(key) == expected[key], (key, result)
    if "warning" in expected:
        assert any(expected["warning"] in w for w in result.get("warnings", [])), result.get("warnings")
    if "sample" in expected:
        metric, value = expected["sample"]
        assert SensorSample.objects.filter(upload=upload, metric=metric, value=Decimal(value)).exists()
    if "stock" in expected:
        code, quantity = expected["stock"]
        assert StockLevel.objects.get(location__code=code).on_hand == Decimal(quantity)
    assert StockMove.objects.count() == before[3] + result.get("transfers", 0) + result.get("scan_receives", 0)

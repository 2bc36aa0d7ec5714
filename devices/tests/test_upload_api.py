"""The upload endpoint: the ways a device authenticates, what is refused, retries,
and the status a device or a person can read back."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from devices import services
from devices.models import ReaderUpload, UploadStatus
from devices.tests.helpers import example, post_upload
from tests.factories.devices import DeviceFactory, ReaderUploadFactory, device_with_key
from tests.factories.tracker import user_with_role

pytestmark = pytest.mark.django_db
BODY = example("zebra_iotc")


@pytest.fixture
def reader(site_a):
    return device_with_key(site=site_a, device_id="FX-1")


def problem(response):
    assert response["Content-Type"].startswith("application/problem+json"), response.content
    return response.json()


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize("how", ["bearer", "basic", "api_key", "path"])
def test_each_way_of_presenting_the_key_is_accepted(reader, how, django_capture_on_commit_callbacks):
    device, secret = reader
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_upload(BODY, secret, how=how, device_id=device.device_id)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    assert len(callbacks) == 1  # the processing task is enqueued after commit, not run in the request
    upload = ReaderUpload.objects.get(pk=response.json()["id"])
    assert upload.device == device and bytes(upload.body) == BODY and upload.size == len(BODY)
    assert upload.status == UploadStatus.QUEUED
    assert response["Location"].endswith(f"/uploads/{upload.pk}/")


def test_bearer_with_token_scheme_too(reader):
    _, secret = reader
    response = APIClient().generic(
        "POST", "/api/v1/devices/uploads/", BODY, content_type="application/json", HTTP_AUTHORIZATION=f"Token {secret}"
    )
    assert response.status_code == 202


def test_anonymous_upload_is_refused(reader):
    response = APIClient().generic("POST", "/api/v1/devices/uploads/", BODY, content_type="application/json")
    assert response.status_code == 401
    assert problem(response)["code"] == "not_authenticated"
    assert "Bearer" in response["WWW-Authenticate"]
    assert not ReaderUpload.objects.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-3] + "xyz",  # wrong secret
        lambda s: "sfd_000000000000_" + s.split("_", 2)[2],  # unknown prefix
        lambda s: "sfd_nonsense",  # malformed
    ],
)
def test_wrong_keys_are_refused(reader, mangle):
    _, secret = reader
    response = post_upload(BODY, mangle(secret))
    assert response.status_code == 401
    assert problem(response)["code"] == "not_authenticated"
    assert not ReaderUpload.objects.exists()


def test_revoked_key_is_refused_with_the_reason(reader):
    device, secret = reader
    services.device_key_revoke(key=device.keys.get())
    response = post_upload(BODY, secret)
    assert response.status_code == 401
    assert "revoked" in problem(response)["detail"]
    assert not ReaderUpload.objects.exists()


def test_expired_key_is_refused(reader):
    device, secret = reader
    device.keys.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = post_upload(BODY, secret)
    assert response.status_code == 401 and "expired" in problem(response)["detail"]


def test_deactivated_device_is_refused(reader):
    device, secret = reader
    device.active = False
    device.save()
    response = post_upload(BODY, secret)
    assert response.status_code == 401 and "deactivated" in problem(response)["detail"]


def test_basic_auth_must_name_the_keys_device(reader, site_a):
    _, secret = reader
    DeviceFactory(site=site_a, device_id="OTHER")
    response = post_upload(BODY, secret, how="basic", device_id="OTHER")
    assert response.status_code == 401
    assert "does not belong" in problem(response)["detail"]


def test_basic_with_a_password_is_not_a_device(reader):
    credentials = base64.b64encode(b"FX-1:password").decode()
    response = APIClient().generic(
        "POST",
        "/api/v1/devices/uploads/",
        BODY,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )
    assert response.status_code in (401, 403)
    assert not ReaderUpload.objects.exists()


def test_a_person_cannot_upload(reader, site_a):
    client = APIClient()
    client.force_authenticate(user_with_role("plant manager", site_a))
    response = client.generic("POST", "/api/v1/devices/uploads/", BODY, content_type="application/json")
    assert response.status_code == 403
    assert "device key" in problem(response)["detail"]


# ------------------------------------------------------------------ what is refused


def test_empty_upload_is_refused(reader):
    response = post_upload(b"", reader[1])
    assert response.status_code == 400
    assert problem(response)["code"] == "empty_upload"
    assert not ReaderUpload.objects.exists()


def test_oversized_upload_is_refused(reader):
    body = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    response = post_upload(body, reader[1])
    assert response.status_code == 413
    assert problem(response)["code"] == "upload_too_large"
    assert not ReaderUpload.objects.exists()


def test_exactly_two_megabytes_is_accepted(reader):
    body = b"[" + b" " * (2 * 1024 * 1024 - 2) + b"]"
    assert post_upload(body, reader[1]).status_code == 202


def test_device_without_format_is_refused(site_a):
    _, secret = device_with_key(site=site_a, upload_format="")
    response = post_upload(BODY, secret)
    assert response.status_code == 409 and problem(response)["code"] == "no_upload_format"


# ------------------------------------------------------------------ retries


def test_same_body_is_a_retry_by_its_hash(reader):
    first = post_upload(BODY, reader[1])
    again = post_upload(BODY, reader[1])
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"id": first.json()["id"], "status": "queued", "duplicate": True}
    assert ReaderUpload.objects.get().upload_key.startswith("sha256:")


def test_explicit_upload_id_wins_over_the_body(reader):
    _, secret = reader
    first = post_upload(BODY, secret, headers={"HTTP_X_UPLOAD_ID": "batch-7"})
    changed = post_upload(BODY.replace(b"-52", b"-53"), secret, headers={"HTTP_X_UPLOAD_ID": "batch-7"})
    query = APIClient().generic(
        "POST",
        "/api/v1/devices/uploads/?upload_id=batch-8",
        BODY,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert changed.status_code == 200 and changed.json()["id"] == first.json()["id"]
    assert query.status_code == 202
    assert set(ReaderUpload.objects.values_list("upload_key", flat=True)) == {"key:batch-7", "key:batch-8"}


def test_envelope_sequence_recognises_a_retry_with_a_different_body(site_a):
    _, secret = device_with_key(site=site_a, upload_format="ruuvi_gateway")
    body = example("ruuvi_gateway")
    first = post_upload(body, secret)
    resent = post_upload(body.replace(b'"rssi": -65', b'"rssi": -66'), secret)  # same gateway nonce
    assert resent.status_code == 200 and resent.json()["id"] == first.json()["id"]


def test_the_same_body_from_two_devices_is_two_uploads(site_a, reader):
    _, other = device_with_key(site=site_a)
    assert post_upload(BODY, reader[1]).status_code == 202
    assert post_upload(BODY, other).status_code == 202


def test_retry_after_processing_answers_the_final_status(reader, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post_upload(BODY, reader[1])
    again = post_upload(BODY, reader[1])
    assert again.status_code == 200 and again.json()["status"] == "processed"
    assert ReaderUpload.objects.get(pk=first.json()["id"]).attempts == 1


def test_request_does_no_processing_and_few_queries(reader, django_assert_max_num_queries):
    _, secret = reader
    with django_assert_max_num_queries(6):  # key lookup, key touch, duplicate check, savepoint, insert, release
        response = post_upload(BODY, secret)
    assert response.status_code == 202
    assert ReaderUpload.objects.get().status == UploadStatus.QUEUED


# ------------------------------------------------------------------ reading it back


def test_device_reads_its_upload_status_and_result(reader, django_capture_on_commit_callbacks):
    _, secret = reader
    with django_capture_on_commit_callbacks(execute=True):
        upload_id = post_upload(BODY, secret).json()["id"]
    response = APIClient().get(f"/api/v1/devices/uploads/{upload_id}/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "processed" and data["reason"] == ""
    assert data["result"]["reads"] == 15 and data["result"]["tags"] == 3
    assert "body" not in data
    via_path = APIClient().get(f"/api/v1/devices/u/{secret}/uploads/{upload_id}/")
    assert via_path.status_code == 200 and via_path.json()["id"] == upload_id


def test_rejected_upload_shows_the_reason(reader, django_capture_on_commit_callbacks):
    _, secret = reader
    with django_capture_on_commit_callbacks(execute=True):
        upload_id = post_upload(b"[{]", secret).json()["id"]
    data = APIClient().get(f"/api/v1/devices/uploads/{upload_id}/", HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert data["status"] == "rejected" and "invalid JSON" in data["reason"]


def test_a_device_sees_only_its_own_uploads(reader, site_a):
    _, secret = reader
    other_device, other_secret = device_with_key(site=site_a)
    mine = ReaderUploadFactory(device=reader[0])
    theirs = ReaderUploadFactory(device=other_device)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get(f"/api/v1/devices/uploads/{theirs.pk}/").status_code == 404
    listed = [row["id"] for row in client.get("/api/v1/devices/uploads/").json()["results"]]
    assert listed == [mine.pk]

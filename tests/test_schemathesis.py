"""schemathesis over the whole OpenAPI schema (``/api/v1/schema/``), as an admin
(superuser session with its CSRF token) and as a partner key: a bounded number
of generated requests per operation, no 5xx and every response matching its
documented schema.

Each generated request runs in a savepoint that is rolled back, so one case's
writes (or a failed statement on PostgreSQL) never leak into the next one and
the seeded data stays as seeded. Failures are collected per operation and
reported together, without shrinking: the point is the list, fast.

``SCHEMATHESIS_EXAMPLES`` (default 3) sets the examples per operation; the whole
module stays well under three minutes on the CI box with the default.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
CHECKS = [not_a_server_error, response_schema_conformance]
# Known failures with their reasons, reported to their owners: {"METHOD /path": "why"}.
KNOWN: dict[str, str] = {}
FIGURES: Counter = Counter()


@pytest.fixture
def seeded(settings, site_a):
    """A little of everything the API lists: locations, items, stock, a plant with
    work orders, a device with a stored upload, a webhook endpoint."""
    from devices.services import reader_upload_receive
    from tests.factories.devices import device_with_key
    from tests.factories.inventory import ItemFactory, LotItemFactory, receive
    from tests.factories.tracker import LocationFactory
    from tests.factories.wip import make_plant

    settings.ALLOWED_HOSTS = ["*"]
    bin1 = LocationFactory(site=site_a, kind="bin", code="ST-BIN1")
    receive(ItemFactory(sku="ST-PLAIN"), bin1, 5)
    receive(LotItemFactory(sku="ST-LOT"), bin1, 3, lot_code="L-1")
    make_plant(site_a, prefix="ST")
    device, _ = device_with_key(site=site_a, device_id="ST-RDR")
    reader_upload_receive(device=device, body=b"[]", upload_key="st-1")
    return site_a


def _admin_auth(client_factory) -> tuple[dict[str, str], dict[str, str]]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    user = get_user_model().objects.create_superuser("st-admin", "st@example.com", "pw-st-admin-9")
    client = client_factory()
    client.force_login(user)
    secret = _get_new_csrf_string()
    cookies = {
        settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value,
        settings.CSRF_COOKIE_NAME: secret,
    }
    return {"X-CSRFToken": _mask_cipher_secret(secret)}, cookies


def _partner_auth(site) -> tuple[dict[str, str], dict[str, str]]:
    from tests.factories.tracker import user_with_role
    from tracker.models import ApiKeyScope
    from tracker.services import api_key_create

    partner = user_with_role("partner", site)
    _, secret = api_key_create(user=partner, name="schemathesis", scopes=list(ApiKeyScope.values), sites=[site])
    return {"Authorization": f"Bearer {secret}"}, {}


def _run(auth: tuple[dict[str, str], dict[str, str]], who: str) -> dict[str, list[str]]:
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from config.wsgi import application

    # Like Django's test client: a request through the raw WSGI handler must not
    # close the test's connection at request end (on PostgreSQL that ends the
    # test transaction and every later request fails).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
        failures: dict[str, list[str]] = {}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 30, "the schema lost its operations"
        only = os.environ.get("SCHEMATHESIS_ONLY")  # a path fragment, to reproduce one operation
        if only:
            operations = [op for op in operations if only in op.path]
        for operation in operations:
            _check_operation(operation, auth, who, failures)
            FIGURES[f"{who} operations"] += 1
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return failures


def _check_operation(
    operation, auth: tuple[dict[str, str], dict[str, str]], who: str, failures: dict[str, list[str]]
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    def check(case):
        FIGURES[f"{who} examples"] += 1
        with transaction.atomic():
            response = case.call(headers=auth[0], cookies=auth[1])
            transaction.set_rollback(True)
        if response.status_code >= 500:
            FIGURES[f"{who} 5xx"] += 1
            failures.setdefault(label, []).append(
                f"5xx for {case.media_type} body {str(case.body)[:300]!r} query {case.query!r} headers {case.headers!r}"
            )
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collected, reported together
            parts = getattr(exc, "exceptions", None) or [exc]
            for part in parts:
                where = getattr(part, "schema_path", None) or ""
                detail = getattr(part, "validation_message", None) or str(part).splitlines()[0]
                failures.setdefault(label, []).append(
                    f"{response.status_code} {type(part).__name__}: {detail} {list(where)[-4:] if where else ''}"
                )

    try:
        check()
    except Unsatisfiable:  # schemathesis found no request it could build for this operation
        FIGURES[f"{who} operations without a valid example"] += 1


def _assert_clean(failures: dict[str, list[str]], who: str) -> None:
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN}
    print(f"schemathesis {who}: {dict(FIGURES)}; known failures seen: {sorted(set(failures) & set(KNOWN))}")
    assert not unexpected, "\n\n".join(f"{k}\n  " + "\n  ".join(sorted(set(v))[:3]) for k, v in unexpected.items())


def test_whole_schema_as_admin(seeded, client):
    _assert_clean(_run(_admin_auth(type(client)), "admin"), "admin")


def test_whole_schema_as_partner_key(seeded):
    _assert_clean(_run(_partner_auth(seeded), "partner"), "partner")

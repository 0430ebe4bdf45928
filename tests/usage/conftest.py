"""Fixtures for the usage API: an agency with clients, keys, balances, and a JSON client."""

import itertools
import json

import pytest
from django.test import Client

from billing.models import LedgerEntry
from tests.conftest import credits_add, minutes_add
from usage import keys
from usage.models import Reservation, UsageRecord

_record_ids = itertools.count(1)


def record(organization, **fields) -> dict:
    """A well-formed usage record for `organization`; override any field."""
    data = {
        "id": f"call-{next(_record_ids)}",
        "organization_id": organization.pk,
        "duration_sec": 84,
        "created_at": "2025-12-13T10:00:00.000Z",
        "number_id": "number-1",
        "direction": "outbound",
    }
    data.update(fields)
    return data


def snapshot():
    """Everything the API may change: compare before and after a refused request."""
    from agencies.models import Agency, Organization

    return (
        sorted(Agency.objects.values_list("pk", "minutes_balance")),
        sorted(Organization.objects.values_list("pk", "credits_balance")),
        LedgerEntry.objects.count(),
        UsageRecord.objects.count(),
        sorted(Reservation.objects.values_list("pk", "status")),
    )


class Api:
    """Calls /api/v1/ as the calling platform would: JSON, Bearer key, any served host."""

    def __init__(self, host="localhost"):
        # CSRF checks on, as for any real client: the API must not depend on Django's test leniency.
        self.client = Client(HTTP_HOST=host, enforce_csrf_checks=True)

    def _headers(self, key):
        return {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}

    def get(self, path, key=None, **params):
        return self.client.get(f"/api/v1/{path}", params, **self._headers(key))

    def post(self, path, body, key=None, raw=False):
        data = body if raw else json.dumps(body)
        return self.client.post(f"/api/v1/{path}", data, content_type="application/json", **self._headers(key))


@pytest.fixture
def api():
    return Api()


@pytest.fixture
def agency(make_agency):
    agency = make_agency(active=True)
    minutes_add(agency, 1000)
    return agency


@pytest.fixture
def org(agency, make_client_user):
    organization = make_client_user(agency, company_name="Client One").organization
    credits_add(organization, 100)
    return organization


@pytest.fixture
def agency_key(agency):
    return keys.api_key_create(name="platform sync", agency=agency).secret


@pytest.fixture
def client_key(org):
    return keys.api_key_create(name="client app", organization=org).secret


@pytest.fixture
def other_agency(make_agency, make_client_user):
    """A second tenant with its own client, minutes, credits and keys."""
    other = make_agency(active=True)
    minutes_add(other, 500)
    other.org = make_client_user(other, company_name="Other Client").organization
    credits_add(other.org, 50)
    other.key = keys.api_key_create(name="other sync", agency=other).secret
    other.client_key = keys.api_key_create(name="other client", organization=other.org).secret
    return other

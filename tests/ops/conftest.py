"""Fixtures for pull sync, alerts and dashboards: an agency with clients and balances, local servers."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.models import Agency
from tests.conftest import credits_add, minutes_add
from tests.ops.servers import UpstreamUsageApi, WebhookReceiver
from tests.stripe_fixtures import (  # noqa: F401 -- the Stripe stand-in, for the purchase notices
    connected_agency,
    keyed_agency,
    stripe_account,
    stripe_agency,
    stripe_base,
    stripe_platform,
    stripe_standin,
)

_calls = itertools.count(1)


@pytest.fixture(autouse=True)
def _local_servers_allowed(settings):
    # The stand-ins listen on 127.0.0.1, which production refuses (see test_outbound.py).
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = True
    settings.RETRY_BASE_SECONDS = 30
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def call(organization, *, minutes=1, days_ago=0, **fields) -> dict:
    """A usage record as the calling platform sends it: `minutes` whole minutes long."""
    moment = timezone.now() - timedelta(days=days_ago, minutes=5)
    data = {
        "id": f"call-{next(_calls)}",
        "organization_id": organization.pk,
        "duration_sec": minutes * 60,
        "created_at": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "number_id": "number-1",
        "direction": "outbound",
    }
    data.update(fields)
    return data


@pytest.fixture
def agency(make_agency):
    agency = make_agency(active=True)
    minutes_add(agency, 10_000)
    # Agency notices (ops.notices) off, so the sweep's deliveries here are the alerts' alone;
    # tests/ops/test_notices.py switches them on.
    Agency.objects.filter(pk=agency.pk).update(notify_client_signup=False, notify_purchase=False)
    agency.refresh_from_db()
    return agency


@pytest.fixture
def client_user(agency, make_client_user):
    user = make_client_user(agency, company_name="Client One")
    credits_add(user.organization, 100)
    return user


@pytest.fixture
def org(client_user):
    return client_user.organization


@pytest.fixture
def upstream():
    server = UpstreamUsageApi().start()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()

"""POST /api/v1/calls/authorize: reservations, free = balance - reserved, the seed's 402."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import BalanceCrossing
from ops import alerts
from ops.models import BalanceAlert
from tests.conftest import credits_add, minutes_add
from tests.usage.conftest import snapshot
from usage.models import Reservation
from usage.reservations import INSUFFICIENT_MESSAGE, PROVIDER_EXHAUSTED_MESSAGE

SEED_402 = {"error": {"code": "insufficient_credits", "message": INSUFFICIENT_MESSAGE}}
PROVIDER_402 = {"error": {"code": "provider_minutes_exhausted", "message": PROVIDER_EXHAUSTED_MESSAGE}}


def authorize(api, key, org, max_minutes):
    return api.post("calls/authorize", {"organization_id": org.pk, "max_minutes": max_minutes}, key)


def test_the_402_message_is_the_seeds():
    assert INSUFFICIENT_MESSAGE == (
        "Insufficient credits to make outbound call. Please add credits in your billing dashboard."
    )


def test_an_authorization_reserves_the_minutes_asked_for_until_an_expiry(api, org, agency_key, settings):
    settings.RESERVATION_GRACE_SECONDS = 120
    before = timezone.now()
    response = authorize(api, agency_key, org, 30)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "organization_id", "reserved_minutes", "expires_at"}
    assert (body["organization_id"], body["reserved_minutes"]) == (org.pk, 30)
    reservation = Reservation.objects.get(pk=body["id"])
    assert (reservation.minutes, reservation.status, reservation.agency_id) == (30, "active", org.agency_id)
    expected = before + timedelta(minutes=30, seconds=120)
    assert abs(reservation.expires_at - expected) < timedelta(seconds=5)
    assert body["expires_at"].endswith("Z")
    assert api.get("billing/balance", agency_key, organization_id=org.pk).json() == {
        "free": 70,
        "reserved": 30,
        "total": 100,
    }


def test_a_client_key_authorizes_its_own_calls_with_or_without_naming_itself(api, org, client_key):
    assert api.post("calls/authorize", {"max_minutes": 10}, client_key).json()["reserved_minutes"] == 10
    assert authorize(api, client_key, org, 10).json()["reserved_minutes"] == 10
    assert api.get("billing/balance", client_key).json() == {"free": 80, "reserved": 20, "total": 100}


def test_the_reservation_is_capped_by_what_the_client_has_free(api, org, agency_key):
    assert authorize(api, agency_key, org, 80).json()["reserved_minutes"] == 80
    assert authorize(api, agency_key, org, 80).json()["reserved_minutes"] == 20
    refused = authorize(api, agency_key, org, 1)
    assert refused.status_code == 402 and refused.json() == SEED_402


def test_the_reservation_is_capped_by_what_the_agency_has_free(api, agency, org, agency_key, make_client_user):
    minutes_add(agency, -985)  # 15 minutes left for all its clients
    second = make_client_user(agency, company_name="Second").organization
    credits_add(second, 100)

    assert authorize(api, agency_key, org, 10).json()["reserved_minutes"] == 10
    assert authorize(api, agency_key, second, 10).json()["reserved_minutes"] == 5
    before = snapshot()
    refused = authorize(api, agency_key, second, 10)
    assert refused.status_code == 402 and refused.json() == PROVIDER_402
    assert snapshot() == before


def test_a_client_without_credits_gets_the_402_and_nothing_is_reserved(
    api, agency, agency_key, client_key, make_client_user
):
    broke = make_client_user(agency, company_name="Broke").organization
    before = snapshot()
    refused = authorize(api, agency_key, broke, 5)
    assert refused.status_code == 402 and refused.json() == SEED_402
    assert snapshot() == before


def test_an_agency_without_minutes_refuses_calls_without_blaming_the_client(api, agency, org, agency_key):
    minutes_add(agency, -1000)
    refused = authorize(api, agency_key, org, 5)
    assert refused.status_code == 402 and refused.json() == PROVIDER_402
    assert "credits are untouched" in refused.json()["error"]["message"]
    assert not Reservation.objects.exists()


def test_a_client_short_of_credits_gets_the_seeds_402_even_when_the_agency_is_short_too(
    api, agency, agency_key, make_client_user
):
    minutes_add(agency, -1000)
    broke = make_client_user(agency, company_name="Broke").organization
    refused = authorize(api, agency_key, broke, 5)
    assert refused.status_code == 402 and refused.json() == SEED_402
    assert not BalanceCrossing.objects.exists()  # not the agency's exhaustion: the client could not call anyway


def test_the_agency_is_alerted_once_per_exhaustion_and_again_after_buying_minutes(api, agency, org, agency_key):
    minutes_add(agency, -1000)
    for _ in range(3):
        assert authorize(api, agency_key, org, 5).json() == PROVIDER_402
    alerts.crossings_deliver()
    assert list(BalanceAlert.objects.values_list("agency_id", "kind")) == [(agency.pk, "exhausted")]

    minutes_add(agency, 1)  # bought minutes: armed again
    assert authorize(api, agency_key, org, 5).status_code == 201
    assert authorize(api, agency_key, org, 5).json() == PROVIDER_402
    assert authorize(api, agency_key, org, 5).json() == PROVIDER_402
    alerts.crossings_deliver()
    assert BalanceAlert.objects.filter(agency=agency, kind="exhausted").count() == 2
    assert BalanceCrossing.objects.filter(taken_at__isnull=True).count() == 0


def test_an_expired_reservation_stops_holding_credits_before_the_sweep_runs(api, org, agency_key):
    reserved = authorize(api, agency_key, org, 100).json()
    assert authorize(api, agency_key, org, 1).status_code == 402

    Reservation.objects.filter(pk=reserved["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert api.get("billing/balance", agency_key, organization_id=org.pk).json() == {
        "free": 100,
        "reserved": 0,
        "total": 100,
    }
    assert authorize(api, agency_key, org, 1).status_code == 201
    assert Reservation.objects.get(pk=reserved["id"]).status == "active"  # the task marks it later


@pytest.mark.parametrize("max_minutes", [1, 240])
def test_max_minutes_bounds_are_accepted(api, org, agency_key, settings, max_minutes):
    settings.RESERVATION_MAX_MINUTES = 240
    credits_add(org, 500)
    assert authorize(api, agency_key, org, max_minutes).json()["reserved_minutes"] == max_minutes

"""GET / PUT /api/v1/billing/auto-reload: what a calling platform sees and may change."""

import json

import pytest
import time_machine

from billing.models import AutoReload, AutoReloadConsent
from tests.billing.topups import saved_method
from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_platform, stripe_standin  # noqa: F401
from usage import keys

pytestmark = pytest.mark.django_db

ON = {"enabled": True, "threshold": 50, "amount": 2000, "payment_method_id": "", "monthly_cap": 10000}


@pytest.fixture
def shop(request, make_client_user):
    """An agency on a stand-in Stripe account, a client with a saved card, and both kinds of key."""
    agency = request.getfixturevalue("stripe_agency")()
    agency.org = make_client_user(agency, company_name="Client One").organization
    agency.method = saved_method(agency, agency.org)
    agency.client_key = keys.api_key_create(name="client app", organization=agency.org).secret
    agency.key = keys.api_key_create(name="platform sync", agency=agency).secret
    return agency


@pytest.fixture
def on(shop):
    return {**ON, "payment_method_id": shop.method}


def put(api, key, body):
    return api.client.put(
        "/api/v1/billing/auto-reload",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def test_an_account_without_auto_reload_reads_as_off(api, client_key, org):
    response = api.get("billing/auto-reload", key=client_key)
    assert response.status_code == 200
    assert response.json() == {
        "organization_id": org.pk,
        "enabled": False,
        "threshold": None,
        "amount": None,
        "payment_method_id": None,
        "monthly_cap": None,
        "charged_this_month": {"amount": 0, "currency": "EUR"},
        "paused": False,
        "paused_reason": None,
        "consecutive_declines": 0,
        "consent": None,
        "last_attempt": None,
    }


@time_machine.travel("2026-11-20 10:00:00+00:00", tick=False)
def test_enabling_records_who_agreed_when_and_to_what(api, shop, on):
    response = put(api, shop.client_key, on)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enabled"] is True and body["threshold"] == 50 and body["payment_method_id"] == shop.method
    assert body["amount"] == {"amount": 2000, "currency": "EUR"}
    assert body["monthly_cap"] == {"amount": 10000, "currency": "EUR"}
    assert body["consent"] == {
        "by": f"API key {shop.client_key[: keys.PREFIX_LENGTH]}",
        "at": "2026-11-20T10:00:00.000Z",
        "amount": {"amount": 2000, "currency": "EUR"},
        "monthly_cap": {"amount": 10000, "currency": "EUR"},
    }
    assert api.get("billing/auto-reload", key=shop.client_key).json() == body


def test_changing_the_amount_records_a_new_consent_and_other_changes_do_not(api, shop, on):
    put(api, shop.client_key, on)
    put(api, shop.client_key, {"amount": 3000})
    assert AutoReloadConsent.objects.count() == 2
    put(api, shop.client_key, {"amount": 3000})
    put(api, shop.client_key, {"enabled": False})
    assert AutoReloadConsent.objects.count() == 2
    assert api.get("billing/auto-reload", key=shop.client_key).json()["consent"]["amount"]["amount"] == 3000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"threshold": None, "amount": None, "monthly_cap": None, "payment_method_id": None}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": "50"}, "threshold"),
        ({"amount": 999}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"monthly_cap": 1000}, "monthly_cap"),
        ({"payment_method_id": 7}, "payment_method_id"),
        ({"enabled": "yes"}, "enabled"),
        ({"payment_method_id": None}, "payment_method_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, shop, on, change, field):
    body = {key: value for key, value in {**on, **change}.items() if value is not None or key in change}
    if change.get("threshold", 1) is None:
        body = {"enabled": True}
    response = put(api, shop.client_key, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_field" and field in error["message"]
    assert not AutoReload.objects.exists() and not AutoReloadConsent.objects.exists()


def test_a_body_that_is_not_json_is_a_400(api, client_key):
    response = api.client.put(
        "/api/v1/billing/auto-reload", "{", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {client_key}"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_a_payment_method_that_is_not_the_callers_is_404(api, shop, on, make_client_user):
    neighbour = make_client_user(shop, company_name="Neighbour").organization
    theirs = saved_method(shop, neighbour)
    for method in (theirs, "pm_unknown"):
        response = put(api, shop.client_key, {**on, "payment_method_id": method})
        assert response.status_code == 404 and response.json()["error"]["code"] == "payment_method_not_found"
    assert not AutoReload.objects.exists()


def test_an_agency_key_sets_a_clients_credits(api, shop, on):
    theirs = put(api, shop.key, {**on, "threshold": 7, "organization_id": shop.org.pk}).json()
    assert theirs["organization_id"] == shop.org.pk and theirs["threshold"] == 7
    assert api.get("billing/auto-reload", key=shop.key, organization_id=shop.org.pk).json()["threshold"] == 7
    own = api.get("billing/auto-reload", key=shop.key).json()
    assert own["organization_id"] is None and own["enabled"] is False


def test_an_agency_key_sets_its_own_platform_minutes(api, shop, request):
    method = saved_method(shop, None, stand_in=request.getfixturevalue("stripe_platform"))
    own = put(api, shop.key, {**ON, "payment_method_id": method}).json()
    assert own["organization_id"] is None and own["enabled"] is True
    assert AutoReload.objects.get(agency=shop).payment_method_id == method


def test_another_tenants_organization_is_404(api, agency_key, client_key, other_agency):
    for key in (agency_key, client_key):
        response = put(api, key, {**ON, "payment_method_id": "pm_x", "organization_id": other_agency.org.pk})
        assert response.status_code == 404 and response.json()["error"]["code"] == "organization_not_found"
        got = api.get("billing/auto-reload", key=key, organization_id=other_agency.org.pk)
        assert got.status_code == 404
    assert not AutoReload.objects.exists()


def test_turning_it_on_again_clears_a_pause(api, shop, on):
    put(api, shop.client_key, on)
    AutoReload.objects.update(paused_at="2026-11-01T00:00:00Z", paused_reason="3 declines", consecutive_declines=3)
    assert api.get("billing/auto-reload", key=shop.client_key).json()["paused"] is True
    body = put(api, shop.client_key, {"enabled": True}).json()
    assert (body["paused"], body["paused_reason"], body["consecutive_declines"]) == (False, None, 0)


def test_other_methods_are_405(api, client_key):
    response = api.post("billing/auto-reload", ON, key=client_key)
    assert response.status_code == 405

"""GET / PUT /api/v1/billing/auto-reload: what a calling platform sees and may change."""

import json

import pytest
import time_machine

from billing.models import AutoReload, AutoReloadConsent

pytestmark = pytest.mark.django_db

ON = {"enabled": True, "threshold": 50, "amount": 2000, "payment_method_id": "pm_saved_1", "monthly_cap": 10000}


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
def test_enabling_records_who_agreed_when_and_to_what(api, client_key, org):
    response = put(api, client_key, ON)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enabled"] is True and body["threshold"] == 50
    assert body["amount"] == {"amount": 2000, "currency": "EUR"}
    assert body["monthly_cap"] == {"amount": 10000, "currency": "EUR"}
    prefix = client_key[: len(body["consent"]["by"]) - len("API key ")]
    assert body["consent"] == {
        "by": f"API key {prefix}",
        "at": "2026-11-20T10:00:00.000Z",
        "amount": {"amount": 2000, "currency": "EUR"},
        "monthly_cap": {"amount": 10000, "currency": "EUR"},
    }
    assert api.get("billing/auto-reload", key=client_key).json() == body


def test_changing_the_amount_records_a_new_consent_and_other_changes_do_not(api, client_key, org):
    put(api, client_key, ON)
    put(api, client_key, {"amount": 3000})
    assert AutoReloadConsent.objects.count() == 2
    put(api, client_key, {"amount": 3000})
    put(api, client_key, {"enabled": False})
    assert AutoReloadConsent.objects.count() == 2
    assert api.get("billing/auto-reload", key=client_key).json()["consent"]["amount"]["amount"] == 3000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": True}, "threshold"),
        ({**ON, "threshold": 0}, "threshold"),
        ({**ON, "threshold": "50"}, "threshold"),
        ({**ON, "amount": 999}, "amount"),
        ({**ON, "amount": 12.5}, "amount"),
        ({**ON, "monthly_cap": 1000}, "monthly_cap"),
        ({**ON, "payment_method_id": 7}, "payment_method_id"),
        ({**ON, "enabled": "yes"}, "enabled"),
        ({**ON, "payment_method_id": None}, "payment_method_id"),
        ({**ON, "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, client_key, body, field):
    response = put(api, client_key, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_field" and field in error["message"]
    assert not AutoReload.objects.exists() and not AutoReloadConsent.objects.exists()


def test_a_body_that_is_not_json_is_a_400(api, client_key):
    response = api.client.put(
        "/api/v1/billing/auto-reload", "{", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {client_key}"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_an_agency_key_sets_its_own_minutes_or_a_clients_credits(api, agency_key, agency, org):
    own = put(api, agency_key, ON).json()
    assert own["organization_id"] is None
    assert AutoReload.objects.get(agency=agency).enabled
    theirs = put(api, agency_key, {**ON, "threshold": 7, "organization_id": org.pk}).json()
    assert theirs["organization_id"] == org.pk and theirs["threshold"] == 7
    assert api.get("billing/auto-reload", key=agency_key, organization_id=org.pk).json()["threshold"] == 7
    assert api.get("billing/auto-reload", key=agency_key).json()["threshold"] == 50


def test_another_tenants_organization_is_404(api, agency_key, client_key, other_agency):
    for key in (agency_key, client_key):
        response = put(api, key, {**ON, "organization_id": other_agency.org.pk})
        assert response.status_code == 404 and response.json()["error"]["code"] == "organization_not_found"
        got = api.get("billing/auto-reload", key=key, organization_id=other_agency.org.pk)
        assert got.status_code == 404
    assert not AutoReload.objects.exists()


def test_turning_it_on_again_clears_a_pause(api, client_key, org):
    put(api, client_key, ON)
    AutoReload.objects.update(paused_at="2026-11-01T00:00:00Z", paused_reason="3 declines", consecutive_declines=3)
    assert api.get("billing/auto-reload", key=client_key).json()["paused"] is True
    body = put(api, client_key, {"enabled": True}).json()
    assert (body["paused"], body["paused_reason"], body["consecutive_declines"]) == (False, None, 0)


def test_other_methods_are_405(api, client_key):
    response = api.post("billing/auto-reload", ON, key=client_key)
    assert response.status_code == 405

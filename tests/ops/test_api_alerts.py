"""GET / PUT /api/v1/billing/alerts: the threshold and webhook URL the settings pages manage, by API key."""

import json

import pytest

from ops import alerts
from ops.models import AlertSettings
from tests.usage.conftest import Api
from usage import keys


@pytest.fixture
def api():
    return Api()


@pytest.fixture
def agency_key(agency):
    return keys.api_key_create(name="sync", agency=agency).secret


@pytest.fixture
def client_key(org):
    return keys.api_key_create(name="client", organization=org).secret


def put(api, body, key, **params):
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return api.client.put(
        f"/api/v1/billing/alerts{query}",
        json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_get_shows_what_the_settings_page_saved(api, org, client_key):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="https://hooks.example.com/low")

    body = api.get("billing/alerts", client_key).json()

    assert body == {
        "organization_id": org.pk,
        "threshold": 50,
        "webhook_url": "https://hooks.example.com/low",
        "webhook_secret_set": True,
    }


def test_get_of_an_account_without_settings_is_all_off(api, agency, agency_key):
    assert api.get("billing/alerts", agency_key).json() == {
        "organization_id": None,
        "threshold": None,
        "webhook_url": None,
        "webhook_secret_set": False,
    }


def test_put_changes_only_the_fields_sent_and_never_returns_the_secret(api, org, client_key):
    response = put(api, {"threshold": 40}, client_key)
    assert response.status_code == 200
    assert response.json() == {
        "organization_id": org.pk,
        "threshold": 40,
        "webhook_url": None,
        "webhook_secret_set": False,
    }

    response = put(api, {"webhook_url": "https://hooks.example.com/a"}, client_key)
    body = response.json()
    assert (body["threshold"], body["webhook_url"], body["webhook_secret_set"]) == (
        40,
        "https://hooks.example.com/a",
        True,
    )
    secret = AlertSettings.objects.get(organization=org).signing_secret
    assert secret and secret not in response.content.decode()

    body = put(api, {"threshold": None, "webhook_url": None}, client_key).json()
    assert (body["threshold"], body["webhook_url"]) == (None, None)
    org.refresh_from_db()
    assert org.low_balance_threshold is None


def test_an_agency_key_sets_its_own_minutes_alert_or_a_clients(api, agency, org, agency_key):
    assert put(api, {"threshold": 500}, agency_key).json()["organization_id"] is None
    assert put(api, {"threshold": 7, "organization_id": org.pk}, agency_key).json()["organization_id"] == org.pk
    agency.refresh_from_db()
    org.refresh_from_db()
    assert (agency.low_balance_threshold, org.low_balance_threshold) == (500, 7)
    assert api.get("billing/alerts", agency_key, organization_id=org.pk).json()["threshold"] == 7


@pytest.mark.parametrize(
    "body",
    [
        {"threshold": 0},
        {"threshold": -5},
        {"threshold": "10"},
        {"threshold": 1.5},
        {"threshold": True},
        {"threshold": 10**12},
        {"webhook_url": "ftp://hooks.example.com/"},
        {"webhook_url": "not a url"},
        {"webhook_url": 5},
        {"webhook_url": "https://user:pw@hooks.example.com/"},
        {"webhook_url": "https://" + "a" * 600 + ".com/"},
        {"webhook_url": "https://hooks.example.com/\ud800"},  # a lone surrogate: no database stores it
        {"webhook_url": "https://hooks.example.com/\x00"},
        {"colour": "red"},
        {"organization_id": "x"},
    ],
)
def test_bad_input_is_400_invalid_field_and_changes_nothing(api, org, client_key, body):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")

    response = put(api, body, client_key)

    assert response.status_code == 400 and error_code(response) == "invalid_field"
    org.refresh_from_db()
    assert org.low_balance_threshold == 50 and alerts.alert_settings_get(organization=org).webhook_url == ""


def test_a_private_address_is_refused_as_on_the_settings_page(api, org, client_key, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    for url in ("https://127.0.0.1/hook", "https://localhost/hook", "http://169.254.169.254/latest"):
        response = put(api, {"webhook_url": url}, client_key)
        assert response.status_code == 400 and error_code(response) == "invalid_field", url


def test_a_body_that_is_not_a_json_object_is_400(api, org, client_key):
    assert error_code(put(api, "[1]", client_key)) == "invalid_json"
    assert error_code(put(api, "{", client_key)) == "invalid_json"


def test_another_tenants_organization_is_404(api, org, agency_key, client_key, make_agency, make_client_user):
    other = make_client_user(make_agency(active=True), company_name="Other").organization
    assert error_code(api.get("billing/alerts", agency_key, organization_id=other.pk)) == "organization_not_found"
    for key in (agency_key, client_key):
        response = put(api, {"threshold": 5, "organization_id": other.pk}, key)
        assert response.status_code == 404 and error_code(response) == "organization_not_found"
    other.refresh_from_db()
    assert other.low_balance_threshold is None


def test_other_methods_are_405_and_no_key_is_401(api, client_key):
    assert api.post("billing/alerts", {}, client_key).status_code == 405
    assert api.get("billing/alerts").status_code == 401


def test_the_api_404_still_answers_after_the_alerts_route(api, client_key):
    response = api.get("billing/alerts/extra", client_key)
    assert response.status_code == 404 and error_code(response) == "not_found"

"""/api/v1/billing/payment-methods and /api/v1/billing/topup against the Stripe stand-in."""

# ruff: noqa: F811 -- the stand-in's fixtures are imported here and named as test arguments

import json
from typing import Any

import pytest
from django.test import Client

from billing.models import LedgerEntry, Purchase
from invoices.models import Invoice
from tests.billing.flows import deliver
from tests.billing.topups import saved_method
from tests.stripe_fixtures import (  # noqa: F401 -- fixtures
    stripe_account,
    stripe_agency,
    stripe_base,
    stripe_platform,
    stripe_standin,
)
from usage import keys


class PaymentsApi:
    def __init__(self, key: str):
        self.client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def get(self, path, **params):
        return self.client.get(f"/api/v1/billing/{path}", params, **self.auth)

    def post(self, path, body=None, *, key: str | None = None):
        headers: dict[str, Any] = {**self.auth, **({"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {})}
        data = json.dumps(body) if body is not None else ""
        return self.client.post(f"/api/v1/billing/{path}", data, content_type="application/json", **headers)

    def delete(self, path, **params):
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        return self.client.delete(f"/api/v1/billing/{path}{query}", **self.auth)


@pytest.fixture
def tenant(stripe_agency, make_client_user):
    """A client of an agency on the stand-in (40 cents a credit), with a client key and an agency key."""
    agency = stripe_agency()
    organization = make_client_user(agency, company_name="Client One").organization
    agency.org = organization
    agency.client_api = PaymentsApi(keys.api_key_create(name="client app", organization=organization).secret)
    agency.agency_api = PaymentsApi(keys.api_key_create(name="platform sync", agency=agency).secret)
    return agency


def _topup(api, method, *, amount=2000, key="k-1", **extra):
    return api.post("topup", {"amount": amount, "currency": "EUR", "payment_method_id": method, **extra}, key=key)


def test_a_card_saved_through_setup_checkout_is_listed_as_the_default(tenant, client):
    api = tenant.client_api
    assert api.get("payment-methods").json() == {"data": []}
    started = api.post("payment-methods", {})
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["url"].startswith(tenant.stripe.base_url) and body["session_id"].startswith("cs_")
    assert body["expires_at"].endswith("Z")
    back = tenant.stripe.save_payment_method(body["session_id"], "pm_card_mastercard")
    assert back.startswith(f"http://{tenant.slug}.") and "/billing/payment-methods/" in back
    assert deliver(client, tenant, tenant.stripe.last_delivery("checkout.session.completed")).status_code == 200
    (method,) = api.get("payment-methods").json()["data"]
    assert method["id"].startswith("pm_") and method["type"] == "card"
    assert (method["brand"], method["last4"], method["exp_month"], method["default"]) == (
        "mastercard",
        "4444",
        12,
        True,
    )


def test_a_return_url_given_is_where_stripe_sends_the_customer(tenant):
    body = tenant.client_api.post("payment-methods", {"return_url": "https://app.example/cards"}).json()
    assert tenant.stripe.save_payment_method(body["session_id"]) == "https://app.example/cards"
    bad = tenant.client_api.post("payment-methods", {"return_url": "javascript:alert(1)"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_field"


def test_a_top_up_is_charged_credited_and_invoiced(tenant):
    method = saved_method(tenant, tenant.org)
    response = _topup(tenant.client_api, method, amount=2010)
    assert response.status_code == 201, response.content
    body = response.json()
    purchase = Purchase.objects.get()
    assert body["id"] == f"tu_{purchase.reference}" and body["status"] == "succeeded"
    assert body["amount"] == {"amount": 2010, "currency": "EUR"}
    assert body["charged"] == {"amount": 2000, "currency": "EUR"}  # 50 whole credits at 40 cents
    assert (body["units"], body["unit"], body["balance_after"]) == (50, "credits", 50)
    assert body["invoice_id"] == f"inv_{Invoice.objects.get(purchase=purchase).pk}"
    assert body["payment_intent_id"] == purchase.stripe_payment_intent_id
    assert "Idempotent-Replayed" not in response.headers


def test_the_same_idempotency_key_twice_charges_once_and_says_it_replayed(tenant):
    method = saved_method(tenant, tenant.org)
    first = _topup(tenant.client_api, method, key="order-77")
    again = _topup(tenant.client_api, method, key="order-77")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(tenant.stripe.deliveries("payment_intent.created")) == 1
    tenant.org.refresh_from_db()
    assert tenant.org.credits_balance == 50 and LedgerEntry.objects.count() == 1


def test_the_same_key_with_another_body_is_409(tenant):
    method = saved_method(tenant, tenant.org)
    _topup(tenant.client_api, method, key="order-78")
    reused = _topup(tenant.client_api, method, key="order-78", amount=3000)
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedLostCard", "lost_card"),
    ],
)
def test_a_declined_card_is_402_with_the_decline_code(tenant, token, decline_code):
    response = _topup(tenant.client_api, saved_method(tenant, tenant.org, token))
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "card_declined" and error["decline_code"] == decline_code and error["message"]
    assert error["topup_id"].startswith("tu_")
    tenant.org.refresh_from_db()
    assert tenant.org.credits_balance == 0


def test_authentication_required_is_402_with_the_url_to_authenticate(tenant):
    response = _topup(tenant.client_api, saved_method(tenant, tenant.org, "pm_card_authenticationRequired"))
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "authentication_required"
    assert error["authentication_url"].startswith(tenant.stripe.base_url)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": 999, "currency": "EUR"}, "amount_too_small"),
        ({"amount": 2000, "currency": "GBP"}, "currency_mismatch"),
        ({"amount": "20", "currency": "EUR"}, "invalid_field"),
        ({"amount": 2000, "currency": "EURO"}, "invalid_field"),
    ],
)
def test_a_top_up_that_cannot_be_asked_for_is_400_and_charges_nothing(tenant, body, code):
    method = saved_method(tenant, tenant.org)
    response = tenant.client_api.post("topup", {**body, "payment_method_id": method})
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not Purchase.objects.exists() and tenant.stripe.deliveries("payment_intent.created") == []


def test_a_bad_idempotency_key_is_400(tenant):
    response = _topup(tenant.client_api, saved_method(tenant, tenant.org), key="")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_idempotency_key"
    response = _topup(tenant.client_api, "pm_x", key="x" * 256)
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


def test_another_tenants_payment_method_is_404_everywhere(tenant, stripe_agency, make_client_user):
    neighbour = make_client_user(tenant).organization  # another client of the same agency
    theirs = saved_method(tenant, neighbour)
    other = stripe_agency()
    elsewhere = saved_method(other, make_client_user(other).organization)
    api = tenant.client_api
    for method in (theirs, elsewhere, "pm_unknown"):
        assert api.post(f"payment-methods/{method}/default").status_code == 404
        deleted = api.delete(f"payment-methods/{method}")
        assert deleted.status_code == 404 and deleted.json()["error"]["code"] == "payment_method_not_found"
        charged = _topup(api, method, key=f"steal-{method}")
        assert charged.status_code == 404 and charged.json()["error"]["code"] == "payment_method_not_found"
    assert tenant.stripe.client.v1.payment_methods.retrieve(theirs).customer  # still attached
    assert not Purchase.objects.exists()


def test_removing_the_default_moves_it_to_the_newest_remaining_method(tenant, clock):
    api = tenant.client_api
    first = saved_method(tenant, tenant.org, "pm_card_visa")
    clock.shift(60)
    second = saved_method(tenant, tenant.org, "pm_card_mastercard")
    clock.shift(60)
    third = saved_method(tenant, tenant.org, "pm_card_amex")
    made = api.post(f"payment-methods/{first}/default")
    assert made.status_code == 200 and made.json()["default"] is True and made.json()["id"] == first
    assert api.delete(f"payment-methods/{first}").status_code == 204
    listed = {m["id"]: m["default"] for m in api.get("payment-methods").json()["data"]}
    assert first not in listed and listed[third] is True and listed[second] is False


def test_an_agency_key_acts_for_one_of_its_clients_and_not_for_another_agencys(tenant, stripe_agency, make_client_user):
    method = saved_method(tenant, tenant.org)
    listed = tenant.agency_api.get("payment-methods", organization_id=tenant.org.pk).json()["data"]
    assert [m["id"] for m in listed] == [method]
    response = _topup(tenant.agency_api, method, organization_id=tenant.org.pk)
    assert response.status_code == 201 and response.json()["unit"] == "credits"
    other = stripe_agency()
    stranger = make_client_user(other).organization
    refused = tenant.agency_api.get("payment-methods", organization_id=stranger.pk)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "organization_not_found"


def test_an_agency_tops_up_platform_minutes(make_agency, stripe_platform):
    agency = make_agency(active=True)
    api = PaymentsApi(keys.api_key_create(name="sync", agency=agency).secret)
    method = saved_method(agency, None, stand_in=stripe_platform)
    assert [m["id"] for m in api.get("payment-methods").json()["data"]] == [method]
    response = _topup(api, method, amount=1400)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["units"], body["unit"], body["balance_after"]) == (200, "minutes", 200)
    assert body["invoice_id"].startswith("inv_")


def test_without_stripe_keys_payment_methods_are_409(make_agency, settings):
    settings.PLATFORM_STRIPE_SECRET_KEY = ""
    agency = make_agency(active=True)
    api = PaymentsApi(keys.api_key_create(name="sync", agency=agency).secret)
    assert api.get("payment-methods").json() == {"data": []}
    started = api.post("payment-methods", {})
    assert started.status_code == 409 and started.json()["error"]["code"] == "stripe_not_configured"
    response = _topup(api, "pm_anything", amount=1400)
    assert response.status_code == 409 and response.json()["error"]["code"] == "stripe_not_configured"

"""The platform's Connect endpoint: events routed by account, exactly once; direct charges; guardrails."""

import json

import pytest
import stripe

from agencies import services
from agencies.models import Agency
from billing import connect
from billing.models import LedgerEntry, Purchase, StripeEvent
from tests.billing.flows import checkout_start, deliver_last
from tests.conftest import host
from tests.stripe_fixtures import CONNECT_CLIENT_ID, CONNECT_WEBHOOK_SECRET, call


def _post(client, payload: str, signature: str):
    return client.post(
        "/api/webhooks/stripe/connect",
        data=payload,
        content_type="application/json",
        HTTP_HOST="localhost",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def _deliver(client, delivery: dict):
    return _post(client, delivery["payload"], delivery["signature"])


def _signed(event: dict) -> tuple[str, str]:
    payload = json.dumps(event)
    return payload, stripe.WebhookSignature.generate_signature_header(payload, CONNECT_WEBHOOK_SECRET)


def _last(agency, event_type: str) -> dict:
    found = [
        d for d in agency.platform.deliveries(event_type) if f'"account": "{agency.stripe_account_id}"' in d["payload"]
    ]
    assert found, f"no {event_type} of {agency.stripe_account_id}"
    return found[-1]


def _bought(client, agency, user) -> Purchase:
    _, purchase = checkout_start(client, agency, user)
    agency.stripe.pay(purchase.stripe_session_id)
    return purchase


def test_purchase_is_a_direct_charge_on_the_connected_account(client, connected_agency, make_client_user):
    agency = connected_agency()
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user)
    # The session exists on the connected account (Stripe-Account header), not on the platform's own.
    assert (
        agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id).id == purchase.stripe_session_id
    )
    with pytest.raises(stripe.InvalidRequestError):
        agency.platform.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    assert purchase.application_fee_cents == 0


def test_connect_event_credits_its_agency_exactly_once(client, connected_agency, make_client_user):
    agency = connected_agency()
    user = make_client_user(agency)
    purchase = _bought(client, agency, user)
    delivery = _last(agency, "checkout.session.completed")
    first, again = _deliver(client, delivery), _deliver(client, delivery)
    assert first.status_code == again.status_code == 200
    assert again.json()["outcome"] == "duplicate: already processed"
    purchase.refresh_from_db()
    user.organization.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and user.organization.credits_balance == 100
    assert StripeEvent.objects.get(event_id=json.loads(delivery["payload"])["id"]).agency_id == agency.pk
    # The platform sees the event on the connected account too (GET /v1/events with Stripe-Account).
    listed = agency.stripe.client.v1.events.list({"type": "checkout.session.completed"}).data
    assert listed and listed[0].account == agency.stripe_account_id


def test_an_event_of_one_account_never_credits_another_agency(client, connected_agency, make_client_user):
    a, b = connected_agency(), connected_agency()
    user_a, user_b = make_client_user(a), make_client_user(b)
    _bought(client, a, user_a)
    _, purchase_b = checkout_start(client, b, user_b)
    # A's real event, re-addressed to B's account and signed with the platform's secret.
    event = json.loads(_last(a, "checkout.session.completed")["payload"])
    event["account"] = b.stripe_account_id
    response = _post(client, *_signed(event))
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("ignored")
    user_b.organization.refresh_from_db()
    assert user_b.organization.credits_balance == 0 and not LedgerEntry.objects.exists()
    # The genuine delivery still credits A, once.
    assert _deliver(client, _last(a, "checkout.session.completed")).json()["outcome"].endswith("paid")
    user_a.organization.refresh_from_db()
    assert user_a.organization.credits_balance == 100
    purchase_b.refresh_from_db()
    assert purchase_b.status == Purchase.Status.PENDING


def test_wrong_secret_is_refused_and_writes_nothing(client, connected_agency, make_client_user):
    agency = connected_agency()
    _bought(client, agency, make_client_user(agency))
    delivery = _last(agency, "checkout.session.completed")
    forged = stripe.WebhookSignature.generate_signature_header(delivery["payload"], "whsec_NotThePlatformSecret000")
    assert _post(client, delivery["payload"], forged).status_code == 400
    assert not StripeEvent.objects.exists() and not LedgerEntry.objects.exists()


def test_unknown_account_answers_200_and_is_logged(db, client, stripe_platform, caplog):
    event = {
        "id": "evt_unknown0001",
        "type": "checkout.session.completed",
        "account": "acct_nobodyhasthis",
        "livemode": False,
        "data": {"object": {"id": "cs_test_x"}},
    }
    response = _post(client, *_signed(event))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored: no portal has this account connected"
    assert "acct_nobodyhasthis" in caplog.text and not StripeEvent.objects.exists()


def test_event_of_the_other_mode_changes_nothing(client, connected_agency, make_client_user):
    agency = connected_agency()
    _bought(client, agency, make_client_user(agency))
    event = json.loads(_last(agency, "checkout.session.completed")["payload"])
    event["livemode"] = True  # the platform's key is a test key
    response = _post(client, *_signed(event))
    assert response.status_code == 200 and "live-mode event" in response.json()["outcome"]
    assert not StripeEvent.objects.exists()


def test_account_updated_is_read_from_stripe_not_from_the_payload(client, connected_agency, make_client_user):
    agency = connected_agency()
    user = make_client_user(agency)
    agency.stripe.update(charges_enabled=False, **{"currently_due[0]": "external_account"})
    event = json.loads(_last(agency, "account.updated")["payload"])
    event["data"]["object"]["charges_enabled"] = True  # a payload that lies is not believed
    assert _post(client, *_signed(event)).status_code == 200
    agency.refresh_from_db()
    assert not agency.stripe_charges_enabled and agency.stripe_requirements == ["external_account"]

    # Charges disabled: the portal cannot go live, and Buy is refused with the portal's name, before Stripe.
    assert services.agency_set_active(agency=agency, active=False) == []
    missing = services.agency_set_active(agency=agency, active=True)
    assert missing == ["A connected Stripe account that can take payments (finish Stripe's onboarding)"]
    Agency.objects.filter(pk=agency.pk).update(is_active=True)  # live before Stripe disabled charges
    client.force_login(user)
    package = agency.packages.get()
    response = client.post(f"/billing/buy/{package.pk}/", HTTP_HOST=host(agency))
    assert response.status_code == 503
    assert f"{agency.company_name} cannot take payments right now" in response.content.decode()
    assert not Purchase.objects.exists()

    # Stripe enables charges again: the next account.updated lets clients buy.
    agency.stripe.update(charges_enabled=True, **{"currently_due[0]": ""})
    assert _deliver(client, _last(agency, "account.updated")).status_code == 200
    checkout_start(client, agency, user)


def test_deauthorization_mid_life_disconnects_without_refetching(client, connected_agency, make_client_user):
    agency = connected_agency()
    user = make_client_user(agency)
    paid = _bought(client, agency, user)
    _deliver(client, _last(agency, "checkout.session.completed"))
    _, pending = checkout_start(client, agency, user)
    # The agency removes the platform in its Stripe dashboard.
    call(
        agency.platform.base_url,
        "/oauth/deauthorize",
        {"stripe_user_id": agency.stripe_account_id, "client_id": CONNECT_CLIENT_ID},
        key=agency.platform.secret_key,
    )
    response = _deliver(client, _last(agency, "account.application.deauthorized"))
    # 200 although the account can no longer be read: the portal did not try to.
    assert response.status_code == 200 and response.json()["outcome"] == "disconnected"
    agency.refresh_from_db()
    assert agency.stripe_disconnected_at is not None and agency.stripe_account_id
    assert connect.connection_state(agency).state == "disconnected"
    # History kept; Buy refused; a late event of the account changes nothing.
    paid.refresh_from_db()
    assert paid.status == Purchase.Status.PAID and Purchase.objects.count() == 2
    response = client.post(f"/billing/buy/{agency.packages.get().pk}/", HTTP_HOST=host(agency))
    assert response.status_code == 503 and "cannot take payments right now" in response.content.decode()
    late = json.loads(_last(agency, "checkout.session.completed")["payload"])
    late["id"], late["data"]["object"]["id"] = "evt_late0001", pending.stripe_session_id
    assert _post(client, *_signed(late)).json()["outcome"] == "ignored: the account's portal has disconnected it"
    pending.refresh_from_db()
    assert pending.status == Purchase.Status.PENDING


def test_application_fee_is_sent_and_recorded(client, connected_agency, make_client_user, settings):
    settings.STRIPE_APPLICATION_FEE_BPS = 333  # 3.33 % of 40.00 = 1.332 -> 1.33
    agency = connected_agency()
    user = make_client_user(agency)
    purchase = _bought(client, agency, user)
    assert purchase.application_fee_cents == 133
    session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    intent = agency.stripe.client.v1.payment_intents.retrieve(session.payment_intent)
    charge = agency.stripe.client.v1.charges.retrieve(intent.latest_charge)
    assert intent.application_fee_amount == 133 and charge.application_fee_amount == 133
    assert charge.application_fee.startswith("fee_")


def test_application_fee_rounds_half_up_and_only_on_connected_agencies(connected_agency, stripe_agency, settings):
    settings.STRIPE_APPLICATION_FEE_BPS = 1000
    assert connect.application_fee(agency=connected_agency(), amount_cents=55) == 6  # 5.5 -> 6
    assert connect.application_fee(agency=stripe_agency(), amount_cents=55) == 0
    settings.STRIPE_APPLICATION_FEE_BPS = 0
    assert connect.application_fee(agency=connected_agency(), amount_cents=55) == 0


def test_onboarding_finished_on_stripe_arrives_by_account_updated(client, connected_agency):
    agency = connected_agency(onboarded=False)
    assert services.agency_set_active(agency=agency, active=True) != []
    agency.stripe.onboard()
    delivery = _last(agency, "account.updated")
    assert _deliver(client, delivery).json()["outcome"] == "account updated: charges enabled"
    assert _deliver(client, delivery).json()["outcome"] == "duplicate: already processed"
    agency.refresh_from_db()
    assert agency.stripe_charges_enabled and connect.connection_state(agency).state == "connected"
    assert services.agency_set_active(agency=agency, active=True) == []


def test_an_agency_that_moves_from_its_own_key_to_connect_keeps_selling(
    client, stripe_platform, stripe_agency, make_client_user
):
    agency = stripe_agency()  # product and price pasted for its own key: unknown on the connected account
    user = make_client_user(agency)
    client.force_login(agency.admin)
    client.post("/console/billing/connect/test-account/", HTTP_HOST="localhost")
    agency.refresh_from_db()
    assert agency.stripe_account_id and agency.stripe_charges_enabled
    _, purchase = checkout_start(client, agency, user)
    assert purchase.amount_cents == 4000


def test_own_key_payments_made_before_connecting_are_still_credited(
    client, stripe_platform, stripe_agency, make_client_user
):
    agency = stripe_agency()
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user)
    agency.stripe.pay(purchase.stripe_session_id)
    client.force_login(agency.admin)
    client.post("/console/billing/connect/test-account/", HTTP_HOST="localhost")
    # The event of the agency's own account arrives at its own URL, signed with its own secret.
    assert deliver_last(client, agency, "checkout.session.completed").json()["outcome"].endswith("paid")
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100


def test_refund_in_the_connected_accounts_dashboard_takes_the_credits_back(client, connected_agency, make_client_user):
    agency = connected_agency()
    user = make_client_user(agency)
    purchase = _bought(client, agency, user)
    _deliver(client, _last(agency, "checkout.session.completed"))
    purchase.refresh_from_db()
    agency.stripe.refund(purchase.stripe_payment_intent_id)  # on the connected account (Stripe-Account header)
    assert _deliver(client, _last(agency, "charge.refunded")).status_code == 200
    user.organization.refresh_from_db()
    purchase.refresh_from_db()
    assert user.organization.credits_balance == 0 and purchase.credits_refunded == 100

"""The stand-in saves payment methods the way Stripe does: setup-mode Checkout, SetupIntents,
3-D Secure on session and SEPA debits that settle later, for the real `stripe` package."""

import urllib.parse

import pytest
import stripe

from tests.stripe_fixtures import ConnectedStandInAccount, browser_get, closed_port


@pytest.fixture
def account(stripe_account):
    """A stand-in account with a webhook endpoint for every event (deliveries are recorded; nobody listens)."""
    made = stripe_account()
    endpoint = made.client.v1.webhook_endpoints.create(
        {"url": f"http://127.0.0.1:{closed_port()}/hook", "enabled_events": ["*"]}
    )
    made.endpoint_secret = endpoint.secret
    return made


def _setup_session(account, customer_id: str, **extra):
    return account.client.v1.checkout.sessions.create(
        {
            "mode": "setup",
            "customer": customer_id,
            "currency": "eur",
            "success_url": "https://portal.example/ok?s={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://portal.example/cancel",
            "metadata": {"organization": "7"},
            "setup_intent_data": {"metadata": {"organization": "7"}},
            **extra,
        }
    )


def _event_types(account) -> list[str]:
    return [d["type"] for d in account.deliveries()]


def test_a_setup_session_saves_the_chosen_card_on_the_customer(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    session = _setup_session(account, customer.id)
    assert session.mode == "setup" and session.status == "open" and session.setup_intent is None
    status, page, _ = browser_get(session.url)
    assert status == 200 and "pm_card_chargeDeclinedInsufficientFunds" in page and "Save" in page
    assert account.save_payment_method(session.id, "pm_card_mastercard") == f"https://portal.example/ok?s={session.id}"
    session = account.client.v1.checkout.sessions.retrieve(session.id)
    assert session.status == "complete" and session.customer == customer.id
    intent = account.client.v1.setup_intents.retrieve(session.setup_intent)
    assert intent.status == "succeeded" and intent.usage == "off_session" and intent.customer == customer.id
    assert intent.metadata["organization"] == "7"
    method = account.client.v1.payment_methods.retrieve(intent.payment_method)
    assert method.customer == customer.id and method.card.brand == "mastercard" and method.card.last4 == "4444"
    types = _event_types(account)
    assert types.index("setup_intent.succeeded") < types.index("checkout.session.completed")
    completed = account.last_delivery("checkout.session.completed")
    event = stripe.Webhook.construct_event(completed["payload"], completed["signature"], account.endpoint_secret)
    assert event.data.object.mode == "setup" and event.data.object.setup_intent == intent.id


def test_a_saved_declining_card_declines_when_charged_later(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    session = _setup_session(account, customer.id)
    account.save_payment_method(session.id, "pm_card_chargeDeclinedInsufficientFunds")
    method_id = account.client.v1.setup_intents.retrieve(
        account.client.v1.checkout.sessions.retrieve(session.id).setup_intent
    ).payment_method
    with pytest.raises(stripe.CardError) as declined:
        account.client.v1.payment_intents.create(
            {
                "amount": 1500,
                "currency": "eur",
                "customer": customer.id,
                "payment_method": method_id,
                "off_session": True,
                "confirm": True,
            }
        )
    assert declined.value.error.decline_code == "insufficient_funds"


def test_a_setup_session_is_saved_once_and_only_with_its_types(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    session = _setup_session(account, customer.id, payment_method_types=["card"])
    status, page, _ = browser_get(session.url, {"payment_method": "pm_sepa_debit"})
    assert status == 400
    account.save_payment_method(session.id)
    status, page, _ = browser_get(session.url, {"payment_method": "pm_card_visa"})
    assert status == 400 and "no longer open" in page
    assert len(account.client.v1.payment_methods.list({"customer": customer.id}).data) == 1


def test_setup_mode_refuses_line_items_and_an_unknown_customer(account):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        account.client.v1.checkout.sessions.create(
            {"mode": "setup", "customer": "cus_nope", "success_url": "https://portal.example/ok"}
        )
    assert refused.value.http_status == 404 and refused.value.param == "customer"


def test_a_setup_intent_confirmed_through_the_api_attaches_its_method(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    intent = account.client.v1.setup_intents.create(
        {"customer": customer.id, "payment_method": "pm_card_visa", "confirm": True, "usage": "off_session"}
    )
    assert intent.status == "succeeded" and intent.payment_method.startswith("pm_")
    assert account.client.v1.payment_methods.retrieve(intent.payment_method).customer == customer.id


def test_a_setup_intent_for_a_3ds_card_asks_for_authentication(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    intent = account.client.v1.setup_intents.create(
        {
            "customer": customer.id,
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
            "return_url": "https://portal.example/back",
        }
    )
    assert intent.status == "requires_action" and intent.next_action.type == "redirect_to_url"
    back = account.authenticate(intent.next_action.redirect_to_url.url)
    assert back.startswith("https://portal.example/back?setup_intent=" + intent.id)
    assert account.client.v1.setup_intents.retrieve(intent.id).status == "succeeded"


def _declined_for_authentication(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    method = account.client.v1.payment_methods.attach("pm_card_authenticationRequired", {"customer": customer.id})
    with pytest.raises(stripe.CardError) as declined:
        account.client.v1.payment_intents.create(
            {
                "amount": 5000,
                "currency": "eur",
                "customer": customer.id,
                "payment_method": method.id,
                "off_session": True,
                "confirm": True,
                "metadata": {"topup": "t-9"},
            }
        )
    assert declined.value.code == "authentication_required"
    return declined.value.error.payment_intent, method


def test_completing_authentication_on_session_makes_the_payment_succeed(account):
    intent, method = _declined_for_authentication(account)
    confirmed = account.client.v1.payment_intents.confirm(
        intent.id, {"payment_method": method.id, "return_url": "https://portal.example/return?x=1"}
    )
    assert confirmed.status == "requires_action" and confirmed.next_action.type == "redirect_to_url"
    assert confirmed.next_action.redirect_to_url.return_url == "https://portal.example/return?x=1"
    status, page, _ = browser_get(confirmed.next_action.redirect_to_url.url)
    assert status == 200 and "Complete authentication" in page and "Fail authentication" in page
    back = account.authenticate(confirmed.next_action.redirect_to_url.url)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
    assert back.startswith("https://portal.example/return?x=1&")
    assert query["payment_intent"] == [intent.id] and query["redirect_status"] == ["succeeded"]
    paid = account.client.v1.payment_intents.retrieve(intent.id)
    assert paid.status == "succeeded" and paid.metadata["topup"] == "t-9"
    assert account.client.v1.charges.retrieve(paid.latest_charge).status == "succeeded"
    assert intent.id in account.last_delivery("payment_intent.succeeded")["payload"]


def test_failing_authentication_leaves_the_payment_unpaid(account):
    intent, method = _declined_for_authentication(account)
    confirmed = account.client.v1.payment_intents.confirm(
        intent.id, {"payment_method": method.id, "return_url": "https://portal.example/return"}
    )
    back = account.authenticate(confirmed.next_action.redirect_to_url.url, complete=False)
    assert "redirect_status=failed" in back
    failed = account.client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    assert account.deliveries("payment_intent.succeeded") == []


def test_a_sepa_debit_processes_until_the_bank_settles_it(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    session = _setup_session(account, customer.id)
    account.save_payment_method(session.id, "pm_sepa_debit")
    method = account.client.v1.payment_methods.list({"customer": customer.id, "type": "sepa_debit"}).data[0]
    assert method.sepa_debit.last4 == "3000"
    params = {"currency": "eur", "customer": customer.id, "payment_method": method.id, "off_session": True}
    intent = account.client.v1.payment_intents.create({**params, "amount": 2000, "confirm": True})
    assert intent.status == "processing" and account.last_delivery("payment_intent.processing")
    assert account.deliveries("payment_intent.succeeded") == []
    assert account.settle_payment(intent.id)["status"] == "succeeded"
    assert intent.id in account.last_delivery("payment_intent.succeeded")["payload"]
    bounced = account.client.v1.payment_intents.create({**params, "amount": 3000, "confirm": True})
    assert account.settle_payment(bounced.id, succeeded=False)["status"] == "requires_payment_method"
    assert bounced.id in account.last_delivery("payment_intent.payment_failed")["payload"]


def test_events_of_payments_are_listed(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    method = account.client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    account.client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": method.id,
            "off_session": True,
            "confirm": True,
        }
    )
    listed = account.client.v1.events.list({"type": "payment_intent.*"})
    assert [e.type for e in listed.data] == ["payment_intent.succeeded", "payment_intent.created"]


def test_a_connected_account_charges_with_an_application_fee(stripe_platform):
    created = stripe_platform.client.v1.accounts.create({"type": "standard"})
    connected = ConnectedStandInAccount(stripe_platform.base_url, stripe_platform.secret_key, created.id)
    connected.onboard()
    customer = connected.client.v1.customers.create({"email": "payer@example.com"})
    method = connected.client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    intent = connected.client.v1.payment_intents.create(
        {
            "amount": 4000,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": method.id,
            "off_session": True,
            "confirm": True,
            "application_fee_amount": 400,
        }
    )
    charge = connected.client.v1.charges.retrieve(intent.latest_charge)
    assert intent.status == "succeeded" and charge.application_fee_amount == 400 and charge.application_fee
    delivery = stripe_platform.last_delivery("payment_intent.succeeded")
    assert f'"account": "{created.id}"' in delivery["payload"]
    with pytest.raises(stripe.InvalidRequestError) as missing:  # the platform's own account does not have it
        stripe_platform.client.v1.payment_methods.retrieve(method.id)
    assert missing.value.http_status == 404


def test_restricted_keys_need_the_payment_permissions(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    key = account.call(
        "/_standin/restricted_keys", {"permissions[0]": "customers:write", "permissions[1]": "payment_methods:write"}
    )["secret_key"]
    limited = stripe.StripeClient(key, base_addresses={"api": account.base_url})
    method = limited.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    with pytest.raises(stripe.PermissionError, match="payment_intents:write"):
        limited.v1.payment_intents.create({"amount": 900, "currency": "eur", "payment_method": method.id})
    with pytest.raises(stripe.PermissionError, match="setup_intents:write"):
        limited.v1.setup_intents.create({"customer": customer.id})


def test_a_completed_setup_session_expands_to_its_saved_method(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    session = _setup_session(account, customer.id)
    account.save_payment_method(session.id, "pm_card_visa")
    expanded = account.client.v1.checkout.sessions.retrieve(session.id, {"expand": ["setup_intent.payment_method"]})
    assert expanded.setup_intent.status == "succeeded"
    assert expanded.setup_intent.payment_method.card.last4 == "4242"


def test_the_pay_control_refuses_a_setup_session(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    session = _setup_session(account, customer.id)
    with pytest.raises(RuntimeError, match="400"):
        account.call(f"/_standin/checkout/sessions/{session.id}/pay")
    assert account.client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_an_on_session_payment_without_return_url_is_left_to_stripe_js(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    method = account.client.v1.payment_methods.attach("pm_card_authenticationRequired", {"customer": customer.id})
    intent = account.client.v1.payment_intents.create(
        {"amount": 2500, "currency": "eur", "customer": customer.id, "payment_method": method.id, "confirm": True}
    )
    assert intent.status == "requires_action" and intent.next_action.type == "use_stripe_sdk"
    status, page, _ = browser_get(intent.next_action.use_stripe_sdk.stripe_js, {"outcome": "complete"})
    assert status == 200 and "succeeded" in page
    assert account.client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_a_setup_session_without_a_customer_can_create_one(account):
    session = account.client.v1.checkout.sessions.create(
        {
            "mode": "setup",
            "customer_creation": "always",
            "customer_email": "new@example.com",
            "success_url": "https://portal.example/ok",
        }
    )
    account.save_payment_method(session.id, "pm_card_visa")
    session = account.client.v1.checkout.sessions.retrieve(session.id)
    customer = account.client.v1.customers.retrieve(session.customer)
    assert customer.email == "new@example.com"
    assert len(account.client.v1.payment_methods.list({"customer": customer.id}).data) == 1


def test_a_connected_account_saves_a_card_in_setup_mode(stripe_platform):
    created = stripe_platform.client.v1.accounts.create({"type": "standard"})
    connected = ConnectedStandInAccount(stripe_platform.base_url, stripe_platform.secret_key, created.id)
    connected.onboard()
    customer = connected.client.v1.customers.create({"email": "payer@example.com"})
    session = _setup_session(connected, customer.id)
    connected.save_payment_method(session.id, "pm_sepa_debit")
    intent = connected.client.v1.setup_intents.retrieve(
        connected.client.v1.checkout.sessions.retrieve(session.id).setup_intent
    )
    assert intent.status == "succeeded" and intent.mandate
    completed = stripe_platform.last_delivery("checkout.session.completed")
    assert f'"account": "{created.id}"' in completed["payload"] and session.id in completed["payload"]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_platform.client.v1.setup_intents.retrieve(intent.id)
    assert missing.value.http_status == 404

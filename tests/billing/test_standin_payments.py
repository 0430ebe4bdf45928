"""The stand-in charges saved cards the way Stripe does in test mode: the real `stripe` package,
PaymentMethods made from Stripe's test tokens, and off-session PaymentIntents that succeed,
decline or ask for authentication."""

import pytest
import stripe

from tests.stripe_fixtures import closed_port


@pytest.fixture
def account(stripe_account):
    """A stand-in account with a webhook endpoint for every event (deliveries are recorded; nobody listens)."""
    made = stripe_account()
    made.client.v1.webhook_endpoints.create({"url": f"http://127.0.0.1:{closed_port()}/hook", "enabled_events": ["*"]})
    return made


def _customer_with(account, token: str):
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    method = account.client.v1.payment_methods.attach(token, {"customer": customer.id})
    return customer, method


def _charge(account, customer, method, **extra):
    return account.client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": method.id,
            "off_session": True,
            "confirm": True,
            "metadata": {"topup": "t-1"},
            **extra,
        }
    )


def test_attaching_a_test_token_saves_a_card_on_the_customer(account):
    customer, method = _customer_with(account, "pm_card_mastercard")
    assert method.id.startswith("pm_") and method.id != "pm_card_mastercard"
    assert method.customer == customer.id and method.type == "card"
    assert (method.card.brand, method.card.last4, method.card.exp_month) == ("mastercard", "4444", 12)
    listed = account.client.v1.payment_methods.list({"customer": customer.id, "type": "card"})
    assert [m.id for m in listed.data] == [method.id]
    assert [m.id for m in account.client.v1.customers.payment_methods.list(customer.id).data] == [method.id]
    assert account.client.v1.payment_methods.retrieve(method.id).card.last4 == "4444"
    assert account.last_delivery("payment_method.attached")


def test_the_default_method_is_set_on_the_customer_and_cleared_when_detached(account):
    customer, method = _customer_with(account, "pm_card_visa")
    account.client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": method.id}})
    retrieved = account.client.v1.customers.retrieve(customer.id)
    assert retrieved.invoice_settings.default_payment_method == method.id
    detached = account.client.v1.payment_methods.detach(method.id)
    assert detached.customer is None
    assert account.client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    assert account.client.v1.payment_methods.list({"customer": customer.id}).data == []
    with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
        _charge(account, customer, method)


def test_only_a_method_of_the_customer_can_be_its_default(account):
    customer, _ = _customer_with(account, "pm_card_visa")
    _, theirs = _customer_with(account, "pm_card_visa")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        account.client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": theirs.id}})
    assert refused.value.param == "invoice_settings[default_payment_method]"


def test_another_accounts_payment_method_is_missing(stripe_account):
    mine, theirs = stripe_account(), stripe_account()
    _, method = _customer_with(mine, "pm_card_visa")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        theirs.client.v1.payment_methods.retrieve(method.id)
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    customer = theirs.client.v1.customers.create({"email": "x@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        theirs.client.v1.payment_methods.attach(method.id, {"customer": customer.id})
    assert missing.value.http_status == 404


def test_an_off_session_payment_with_a_good_card_succeeds_with_a_charge(account):
    customer, method = _customer_with(account, "pm_card_visa")
    intent = _charge(account, customer, method, description="Top-up")
    assert intent.status == "succeeded" and intent.amount_received == 2500
    assert intent.customer == customer.id and intent.payment_method == method.id
    charge = account.client.v1.charges.retrieve(intent.latest_charge)
    assert charge.status == "succeeded" and charge.payment_intent == intent.id and charge.amount == 2500
    assert charge.metadata["topup"] == "t-1" and charge.payment_method == method.id
    balance = account.client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert balance.amount == 2500 and balance.net == balance.amount - balance.fee
    retrieved = account.client.v1.payment_intents.retrieve(intent.id)
    assert retrieved.status == "succeeded" and retrieved.metadata["topup"] == "t-1"
    succeeded = account.last_delivery("payment_intent.succeeded")
    assert intent.id in succeeded["payload"] and account.last_delivery("charge.succeeded")


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedLostCard", "lost_card"),
        ("pm_card_chargeDeclinedStolenCard", "stolen_card"),
        ("pm_card_chargeDeclinedFraudulent", "fraudulent"),
        ("pm_card_chargeCustomerFail", "generic_decline"),
    ],
)
def test_a_declined_card_answers_402_with_its_decline_code(account, token, decline_code):
    customer, method = _customer_with(account, token)
    with pytest.raises(stripe.CardError) as declined:
        _charge(account, customer, method)
    error = declined.value
    assert error.http_status == 402 and error.code == "card_declined" and error.user_message
    assert error.error.decline_code == decline_code
    intent = error.error.payment_intent
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.decline_code == decline_code
    assert account.client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"
    assert intent.id in account.last_delivery("payment_intent.payment_failed")["payload"]
    assert account.deliveries("payment_intent.succeeded") == []
    with pytest.raises(stripe.InvalidRequestError, match="does not have a successful charge"):
        account.refund(intent.id)


def test_a_card_that_needs_authentication_is_declined_off_session(account):
    customer, method = _customer_with(account, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as declined:
        _charge(account, customer, method)
    error = declined.value
    assert error.http_status == 402 and error.code == "authentication_required"
    intent = error.error.payment_intent
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "authentication_required"
    assert account.last_delivery("payment_intent.payment_failed")


def test_the_same_idempotency_key_charges_once(account):
    customer, method = _customer_with(account, "pm_card_visa")
    params = {
        "amount": 2500,
        "currency": "eur",
        "customer": customer.id,
        "payment_method": method.id,
        "off_session": True,
        "confirm": True,
    }
    first = account.client.v1.payment_intents.create(params, {"idempotency_key": "topup-1"})
    again = account.client.v1.payment_intents.create(params, {"idempotency_key": "topup-1"})
    assert first.id == again.id and first.latest_charge == again.latest_charge
    assert len(account.deliveries("charge.succeeded")) == 1
    with pytest.raises(stripe.IdempotencyError):
        account.client.v1.payment_intents.create({**params, "amount": 3000}, {"idempotency_key": "topup-1"})


def test_a_declined_payment_replays_its_decline_for_the_same_key(account):
    customer, method = _customer_with(account, "pm_card_chargeDeclinedInsufficientFunds")
    params = {
        "amount": 2500,
        "currency": "eur",
        "customer": customer.id,
        "payment_method": method.id,
        "off_session": True,
        "confirm": True,
    }
    intents = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as declined:
            account.client.v1.payment_intents.create(params, {"idempotency_key": "topup-2"})
        intents.append(declined.value.error.payment_intent.id)
    assert intents[0] == intents[1]
    assert len(account.deliveries("payment_intent.payment_failed")) == 1


def test_a_successful_payment_can_be_refunded_and_disputed(account):
    customer, method = _customer_with(account, "pm_card_visa")
    intent = _charge(account, customer, method)
    refund = account.refund(intent.id, amount=1000)
    assert refund.status == "succeeded" and refund.payment_intent == intent.id
    charge = account.client.v1.charges.retrieve(intent.latest_charge)
    assert charge.amount_refunded == 1000 and not charge.refunded
    assert account.last_delivery("charge.refunded")
    dispute = account.dispute(charge.id)
    assert dispute["payment_intent"] == intent.id


def test_expand_answers_objects_instead_of_ids(account):
    customer, method = _customer_with(account, "pm_card_visa")
    account.client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": method.id}})
    expanded = account.client.v1.customers.retrieve(
        customer.id, {"expand": ["invoice_settings.default_payment_method"]}
    )
    assert expanded.invoice_settings.default_payment_method.card.last4 == "4242"
    assert account.client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == method.id
    intent = _charge(account, customer, method, expand=["latest_charge"])
    assert intent.latest_charge.object == "charge" and intent.latest_charge.amount == 2500
    listed = account.client.v1.payment_intents.list({"customer": customer.id, "expand": ["data.payment_method"]})
    assert listed.data[0].payment_method.id == method.id


def test_an_idempotency_key_belongs_to_one_endpoint(account):
    customer, method = _customer_with(account, "pm_card_visa")
    account.client.v1.customers.update(customer.id, {"name": "Payer"}, {"idempotency_key": "shared-1"})
    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        account.client.v1.payment_intents.create(
            {"amount": 900, "currency": "eur", "payment_method": method.id}, {"idempotency_key": "shared-1"}
        )


def test_a_payment_waiting_for_authentication_can_be_canceled(account):
    customer, method = _customer_with(account, "pm_card_authenticationRequired")
    intent = account.client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": method.id,
            "confirm": True,
            "return_url": "https://portal.example/back",
        }
    )
    assert intent.status == "requires_action"
    canceled = account.client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled" and account.last_delivery("payment_intent.canceled")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        account.client.v1.payment_intents.confirm(intent.id, {"payment_method": method.id})
    assert refused.value.code == "payment_intent_unexpected_state"


def test_an_unattached_test_card_is_used_once(account):
    intent = account.client.v1.payment_intents.create(
        {"amount": 900, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert intent.status == "succeeded" and intent.payment_method.startswith("pm_")
    with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
        account.client.v1.payment_intents.create(
            {"amount": 900, "currency": "eur", "payment_method": intent.payment_method, "confirm": True}
        )


def test_a_customer_can_be_created_with_its_default_card(account):
    customer = account.client.v1.customers.create({"email": "payer@example.com", "payment_method": "pm_card_visa"})
    method = account.client.v1.payment_methods.list({"customer": customer.id}).data[0]
    updated = account.client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": method.id}}
    )
    assert updated.invoice_settings.default_payment_method == method.id
    assert account.last_delivery("payment_method.attached")

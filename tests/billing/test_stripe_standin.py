"""The Stripe stand-in answers the real `stripe` package the way Stripe does."""

import urllib.error
import urllib.request

import pytest
import stripe


def test_an_unknown_key_gets_401(stripe_base):
    client = stripe.StripeClient("sk_test_UnknownToTheStandIn", base_addresses={"api": stripe_base})
    with pytest.raises(stripe.AuthenticationError) as refused:
        client.v1.prices.retrieve("price_x")
    assert refused.value.http_status == 401 and "UnknownToTheStandIn" not in str(refused.value)


def test_objects_belong_to_the_account_that_made_them(stripe_account):
    mine, theirs = stripe_account(), stripe_account()
    product = mine.client.v1.products.create({"name": "Credits"})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        theirs.client.v1.products.retrieve(product.id)
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"


def test_idempotency_keys_replay_the_first_answer(stripe_account):
    account = stripe_account()
    product = account.client.v1.products.create({"name": "Credits"})
    params = {
        "mode": "payment",
        "success_url": "https://example.com/ok",
        "line_items": [{"price_data": {"currency": "eur", "unit_amount": 500, "product": product.id}, "quantity": 1}],
    }
    first = account.client.v1.checkout.sessions.create(params, {"idempotency_key": "k-1"})
    again = account.client.v1.checkout.sessions.create(params, {"idempotency_key": "k-1"})
    assert first.id == again.id
    with pytest.raises(stripe.IdempotencyError):
        account.client.v1.checkout.sessions.create(
            {**params, "customer_email": "x@example.com"}, {"idempotency_key": "k-1"}
        )


def test_checkout_refuses_what_stripe_refuses(stripe_account):
    account = stripe_account()
    product = account.client.v1.products.create({"name": "Credits"})
    monthly = account.client.v1.prices.create(
        {"currency": "eur", "unit_amount": 500, "product": product.id, "recurring": {"interval": "month"}}
    )
    base = {"mode": "payment", "success_url": "https://example.com/ok"}
    with pytest.raises(stripe.InvalidRequestError, match="recurring price"):
        account.client.v1.checkout.sessions.create({**base, "line_items": [{"price": monthly.id, "quantity": 1}]})
    with pytest.raises(stripe.InvalidRequestError, match="No such price"):
        account.client.v1.checkout.sessions.create({**base, "line_items": [{"price": "price_nope", "quantity": 1}]})


def test_deliveries_are_signed_with_the_endpoint_secret(stripe_account):
    account = stripe_account()
    endpoint = account.client.v1.webhook_endpoints.create(
        {"url": "http://127.0.0.1:9/hook", "enabled_events": ["checkout.session.completed"]}
    )
    product = account.client.v1.products.create({"name": "Credits"})
    price = account.client.v1.prices.create({"currency": "eur", "unit_amount": 500, "product": product.id})
    session = account.client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "success_url": "https://example.com/ok?s={CHECKOUT_SESSION_ID}",
            "line_items": [{"price": price.id, "quantity": 1}],
        }
    )
    assert account.pay(session.id) == f"https://example.com/ok?s={session.id}"
    delivery = account.last_delivery("checkout.session.completed")
    event = stripe.Webhook.construct_event(delivery["payload"], delivery["signature"], endpoint.secret)
    assert event.type == "checkout.session.completed" and event.data.object.payment_status == "paid"
    assert account.deliveries("payment_intent.succeeded") == []  # not an enabled event
    with pytest.raises(urllib.error.HTTPError) as closed:  # a session is paid once
        urllib.request.urlopen(urllib.request.Request(session.url, data=b"method=card"))
    assert closed.value.code == 400


def test_a_refund_cannot_exceed_what_is_left(stripe_account):
    account = stripe_account()
    product = account.client.v1.products.create({"name": "Credits"})
    session = account.client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "success_url": "https://example.com/ok",
            "line_items": [{"price_data": {"currency": "eur", "unit_amount": 500, "product": product.id}}],
        }
    )
    account.pay(session.id)
    intent = account.client.v1.checkout.sessions.retrieve(session.id).payment_intent
    account.refund(intent, amount=400)
    with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded amount"):
        account.refund(intent, amount=101)

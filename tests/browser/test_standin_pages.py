"""The Stripe stand-in's hosted pages for saving a card and for 3-D Secure work in a real browser
and pass axe-core, so portal browser tests can walk through them."""

import re

import pytest
from playwright.sync_api import expect

from tests.stripe_fixtures import stripe_account, stripe_base, stripe_standin  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_person_saves_a_card_on_the_hosted_setup_page(new_page, accessible, stripe_account):  # noqa: F811
    account = stripe_account()
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    session = account.client.v1.checkout.sessions.create(
        {
            "mode": "setup",
            "customer": customer.id,
            "currency": "eur",
            # Somewhere the browser can land after Save: the stand-in's own health page.
            "success_url": f"{account.base_url}/_standin/health?s={{CHECKOUT_SESSION_ID}}",
        }
    )
    page = new_page()
    page.goto(session.url)
    accessible(page)
    page.get_by_label("Mastercard •••• 4444 (succeeds)").check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{account.base_url}/_standin/health?s={session.id}")
    methods = account.client.v1.payment_methods.list({"customer": customer.id}).data
    assert [(m.card.brand, m.card.last4) for m in methods] == [("mastercard", "4444")]


@pytest.mark.parametrize(
    ("button", "status"), [("Complete authentication", "succeeded"), ("Fail authentication", "requires_payment_method")]
)
def test_a_person_authenticates_a_payment_on_the_3ds_page(new_page, accessible, stripe_account, button, status):  # noqa: F811
    account = stripe_account()
    customer = account.client.v1.customers.create({"email": "payer@example.com"})
    method = account.client.v1.payment_methods.attach("pm_card_authenticationRequired", {"customer": customer.id})
    intent = account.client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": method.id,
            "confirm": True,
            "return_url": f"{account.base_url}/_standin/health",
        }
    )
    page = new_page()
    page.goto(intent.next_action.redirect_to_url.url)
    expect(page.get_by_test_id("amount")).to_have_text("25.00 EUR")
    accessible(page)
    page.get_by_role("button", name=button).click()
    expect(page).to_have_url(
        re.compile(rf"^{re.escape(account.base_url)}/_standin/health\?payment_intent={intent.id}&")
    )
    assert account.client.v1.payment_intents.retrieve(intent.id).status == status

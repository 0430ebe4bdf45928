"""A client saves a card on Stripe's hosted setup page and tops up with it, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from agencies import services
from tests.browser.signing_in import log_in
from tests.stripe_fixtures import stripe_account, stripe_base, stripe_standin  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(transactional_db, live_server, settings, make_agency, make_client_user, stripe_account):  # noqa: F811
    """An agency whose portal runs on the live server, its Stripe account on the stand-in sending webhooks there."""
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    account = stripe_account()
    endpoint = account.client.v1.webhook_endpoints.create(
        {"url": f"{live_server.url}/api/webhooks/stripe/{agency.slug}", "enabled_events": ["*"]}
    )
    services.agency_update_stripe(
        agency=agency,
        data={
            "stripe_publishable_key": "pk_test_abcdefgh1234",
            "stripe_secret_key": account.secret_key,
            "stripe_product_id": "",
            "stripe_price_id": "",
            "stripe_webhook_secret": endpoint.secret,
        },
    )
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    return agency, account, user


def test_client_saves_a_card_and_tops_up_with_it(shop, live_server, stripe_base, new_page, accessible):  # noqa: F811
    agency, account, user = shop
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"

    page = new_page()
    log_in(page, portal, user.email)
    expect(page.get_by_test_id("credits-balance")).to_have_text("0")

    page.get_by_role("navigation").get_by_role("link", name="Payment methods").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment methods")
    accessible(page)
    page.get_by_role("button", name="Add a card or SEPA account").click()

    # Stripe's hosted setup page (the stand-in).
    expect(page).to_have_url(re.compile(rf"^{re.escape(stripe_base)}/c/pay/cs_test_"))
    page.get_by_label("Visa •••• 4242 (succeeds)").check()
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(portal)}/billing/payment-methods/\?setup=cs_test_"))
    expect(page.get_by_test_id("method-saved")).to_be_visible()
    expect(page.get_by_test_id("payment-method")).to_contain_text("Visa ending 4242")
    expect(page.get_by_test_id("default-method")).to_be_visible()
    accessible(page)

    page.get_by_role("navigation").get_by_role("link", name="Top up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Top up credits")
    accessible(page)
    page.get_by_label("Amount (EUR)").fill("20")
    expect(page.get_by_label("Payment method")).to_contain_text("Visa ending 4242")
    page.get_by_role("button", name="Pay now").click()

    expect(page.get_by_test_id("topup-outcome")).to_contain_text("50 credits added")
    expect(page.get_by_test_id("topup-balance")).to_have_text("50")
    accessible(page)
    # The webhook the stand-in sent to the live server was accepted and credited nothing more.
    assert [d["status"] for d in account.deliveries("payment_intent.succeeded")] == [200]

    # A bad amount is an error tied to its field.
    page.get_by_label("Amount (EUR)").fill("5")
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#id_amount_error")).to_contain_text("The smallest top-up is")
    accessible(page)

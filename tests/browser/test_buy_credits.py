"""A client buys a credit package in a real browser: the portal sends it to the Stripe
stand-in's hosted checkout page, Pay delivers the signed webhook to the live
server, and the client lands back on the portal with the credits."""

import re

import pytest
from playwright.sync_api import expect

from agencies import services
from tests.conftest import PASSWORD
from tests.stripe_fixtures import stripe_account, stripe_base, stripe_standin  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(transactional_db, live_server, settings, make_agency, make_client_user, stripe_account):  # noqa: F811
    """An agency whose portal runs on the live server and whose Stripe account is on the stand-in."""
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    account = stripe_account()
    product = account.client.v1.products.create({"name": "Call credits"})
    price = account.client.v1.prices.create({"currency": "eur", "unit_amount": 4000, "product": product.id})
    endpoint = account.client.v1.webhook_endpoints.create(
        {
            "url": f"{live_server.url}/api/webhooks/stripe/{agency.slug}",
            "enabled_events": ["*"],
        }
    )
    services.agency_update_stripe(
        agency=agency,
        data={
            "stripe_publishable_key": "pk_test_abcdefgh1234",
            "stripe_secret_key": account.secret_key,
            "stripe_product_id": product.id,
            "stripe_price_id": price.id,
            "stripe_webhook_secret": endpoint.secret,
        },
    )
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    return agency, account, user


def test_client_buys_a_package_on_the_checkout_page_and_sees_the_credits(
    shop,
    live_server,
    stripe_base,  # noqa: F811
    new_page,
    screenshots,
    accessible,
):
    agency, account, user = shop
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"

    page = new_page()
    page.goto(f"{portal}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("credits-balance")).to_have_text("0")
    accessible(page)

    page.get_by_role("navigation").get_by_role("link", name="Buy credits").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Buy credits")
    accessible(page)
    page.get_by_role("button", name="Buy 100 credits").click()

    # Stripe's hosted page (the stand-in), on another origin.
    expect(page).to_have_url(re.compile(rf"^{re.escape(stripe_base)}/c/pay/cs_test_"))
    expect(page.get_by_test_id("amount")).to_have_text("40.00 EUR")
    accessible(page)
    screenshots(page, "stripe-standin-checkout")
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(portal)}/billing/buy/success/\?session_id=cs_test_"))
    expect(page.get_by_test_id("credits-added")).to_have_text("+100 credits")
    accessible(page)
    expect(page.get_by_test_id("credits-balance")).to_have_text("100")
    expect(page.get_by_role("banner")).to_contain_text("Sunrise Calls")
    screenshots(page, "client-purchase-success")

    # The signed webhook reached the portal and was accepted before the customer came back.
    assert [d["status"] for d in account.deliveries("checkout.session.completed")] == [200]

    page.get_by_role("navigation").get_by_role("link", name="Billing").click()
    expect(page.get_by_test_id("credits-balance")).to_have_text("100")
    expect(page.get_by_test_id("history-row")).to_contain_text("Bought 100 credits (€40.00)")

"""Stripe Connect in a real browser: a new agency connects a Stripe account (the stand-in's test
account, or OAuth on the stand-in's authorize page), activates its portal, and a client buys;
Pay delivers the connected account's event to the platform's Connect endpoint on the live server."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.signing_in import log_in
from tests.conftest import PASSWORD
from tests.stripe_fixtures import (  # noqa: F401
    CONNECT_CLIENT_ID,
    CONNECT_WEBHOOK_SECRET,
    StandInAccount,
    call,
    stripe_account,
    stripe_base,
    stripe_standin,
    webhook_endpoint_set,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def platform(transactional_db, live_server, settings, stripe_account):  # noqa: F811
    """The platform's account with Connect on; its Connect endpoint is the live server's."""
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    account = stripe_account()
    settings.PLATFORM_STRIPE_SECRET_KEY = account.secret_key
    settings.STRIPE_CONNECT_CLIENT_ID = CONNECT_CLIENT_ID
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_WEBHOOK_SECRET
    webhook_endpoint_set(
        account.base_url,
        account.secret_key,
        url=f"{live_server.url}/api/webhooks/stripe/connect",
        signing_secret=CONNECT_WEBHOOK_SECRET,
        events=["*"],
        connect=True,
    )
    return account


def _console_login(page, port: int, email: str) -> None:
    log_in(page, f"http://localhost:{port}", email)


def _sign_up(page, *, company: str, email: str) -> None:
    page.get_by_label("Company name").fill(company)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()


def test_new_agency_uses_a_test_account_goes_live_and_a_client_buys(platform, live_server, new_page, screenshots):
    """Only the UI, from the agency's sign-up to its client's first purchase (the README's walkthrough)."""
    port = live_server.thread.port

    # The agency signs up, names its portal and adds a package.
    admin = new_page()
    admin.goto(f"http://localhost:{port}/")
    admin.get_by_role("link", name="Start your reseller portal").click()
    _sign_up(admin, company="Sunrise Calls", email="owner@sunrise.example")
    expect(admin.get_by_test_id("portal-status")).to_have_text("Inactive")
    admin.get_by_role("navigation").get_by_role("link", name="Branding").click()
    admin.get_by_label("Portal slug").fill("sunrise")
    admin.get_by_role("button", name="Save branding").click()
    expect(admin.get_by_text("Branding saved.")).to_be_visible()
    admin.get_by_role("navigation").get_by_role("link", name="Packages").click()
    admin.get_by_label("Credits").fill("100")
    admin.get_by_label("Price", exact=True).fill("40.00")
    admin.get_by_label("Currency").select_option("EUR")
    admin.get_by_role("button", name="Add package").click()
    expect(admin.get_by_text("Package added.")).to_be_visible()

    # Stripe: one click connects a ready test account, and the package's price is put on it.
    admin.get_by_role("navigation").get_by_role("link", name="Stripe").click()
    expect(admin.get_by_test_id("connect-state")).to_have_text("Not connected to Stripe through Connect.")
    screenshots(admin, "connect-not-connected")
    admin.get_by_role("button", name="Use a test Stripe account").click()
    expect(admin.get_by_test_id("connect-state")).to_have_text("Connected as \u201cSunrise Calls (test)\u201d.")
    expect(admin.get_by_text(re.compile(r"Created .*100 credits"))).to_be_visible()
    screenshots(admin, "connect-test-account")

    _seller_details(admin)
    admin.get_by_role("navigation").get_by_role("link", name="Overview").click()
    expect(admin.get_by_test_id("readiness-progress")).to_contain_text("5 of 6 done")
    admin.get_by_role("button", name="Activate portal").click()
    # No minutes yet: going live asks first, naming the consequence.
    expect(admin.get_by_test_id("confirm-consequence")).to_contain_text("You hold 0 call minutes")
    admin.get_by_role("button", name="Go live anyway").click()
    expect(admin.get_by_text("Your portal is live.")).to_be_visible()
    expect(admin.get_by_test_id("portal-status")).to_have_text("Active")
    portal = admin.get_by_test_id("portal-url").get_attribute("href")
    assert portal == f"http://sunrise.localhost:{port}/"

    # A client signs up on the new portal and buys the package with the stand-in's checkout page.
    client = new_page()
    client.goto(portal)
    client.get_by_role("link", name="Create your account").click()
    _sign_up(client, company="Moonlight Bakery", email="anna@moonlight.example")
    expect(client.get_by_test_id("credits-balance")).to_have_text("0")
    client.get_by_role("navigation").get_by_role("link", name="Buy credits").click()
    client.get_by_role("button", name="Buy 100 credits").click()
    expect(client).to_have_url(re.compile(r"/c/pay/cs_test_"))
    client.get_by_role("button", name="Pay", exact=True).click()
    expect(client.get_by_test_id("credits-added")).to_have_text("+100 credits")
    expect(client.get_by_test_id("credits-balance")).to_have_text("100")

    # The connected account's event reached the platform's Connect endpoint and was accepted; the
    # agency sees the purchase, paid on its own Stripe account.
    delivered = [d for d in platform.deliveries("checkout.session.completed") if "/stripe/connect" in d["url"]]
    assert [d["status"] for d in delivered] == [200]
    admin.get_by_role("navigation").get_by_role("link", name="Purchases").click()
    expect(admin.get_by_role("row").filter(has_text="Moonlight Bakery")).to_contain_text("Paid")
    screenshots(admin, "console-purchases-after-first-sale")


def test_agency_connects_its_existing_account_on_stripes_authorize_page(platform, live_server, make_agency, new_page):
    port = live_server.thread.port
    agency = make_agency(slug="dawn", company_name="Dawn Calls")
    admin = new_page()
    _console_login(admin, port, agency.admins.get().email)
    admin.goto(f"http://localhost:{port}/console/stripe/")
    admin.get_by_role("button", name="Connect with Stripe").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Connect your Stripe account")
    admin.get_by_label("Business name").fill("Dawn Calls BV")
    admin.get_by_role("button", name="Connect test account").click()
    expect(admin).to_have_url(f"http://localhost:{port}/console/stripe/")
    expect(admin.get_by_test_id("connect-state")).to_have_text("Connected as \u201cDawn Calls BV\u201d.")
    admin.get_by_role("button", name="Disconnect").click()
    expect(admin.get_by_test_id("connect-state")).to_contain_text("Disconnected from the Stripe account")


def _seller_details(admin):
    """Go-live readiness requires what the agency's invoices print about it."""
    admin.get_by_role("navigation").get_by_role("link", name="Seller details").click()
    admin.get_by_label("Legal name").fill("Sunrise Calls Ltd")
    admin.get_by_label("Address", exact=True).fill("1 Harbour Street")
    admin.get_by_label("City").fill("London")
    admin.get_by_label("Country").select_option("GB")  # outside the EU: no VAT ID needed
    admin.get_by_label("Invoice number prefix").fill("SUN")
    admin.get_by_label("include VAT (clients pay the package price)").check()
    admin.get_by_role("button", name="Save seller details").click()
    expect(admin.get_by_text("Seller details saved.")).to_be_visible()

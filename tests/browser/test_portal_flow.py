"""The whole first capability in a real browser: an agency launches its
branded portal and a client signs up on it."""

import re

import pytest
from playwright.sync_api import expect

from tests.stripe_fixtures import stripe_account, stripe_base, stripe_standin  # noqa: F401

PASSWORD = "a-long-browser-password-1"
PRIMARY = "#E4572E"  # what the agency picks; the portal's top bar must be this colour
PRIMARY_RGB = "rgb(228, 87, 46)"

pytestmark = pytest.mark.browser


def _sign_up(page, *, company: str, email: str) -> None:
    page.get_by_label("Company name").fill(company)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()


def test_agency_launches_portal_and_client_signs_up_under_its_brand(
    live_server,
    settings,
    new_page,
    screenshots,
    stripe_account,  # noqa: F811
):
    # Links the console shows must carry the live server's port to be followable.
    port = live_server.thread.port
    settings.PORTAL_PUBLIC_PORT = str(port)

    # An agency signs up on the console.
    admin = new_page()
    admin.goto(f"http://localhost:{port}/")
    admin.get_by_role("link", name="Start your reseller portal").click()
    _sign_up(admin, company="Sunrise Calls", email="owner@sunrise.example")
    expect(admin).to_have_url(re.compile(r"/console/$"))
    expect(admin.get_by_role("heading", level=1)).to_have_text("Sunrise Calls")
    expect(admin.get_by_test_id("portal-status")).to_have_text("Inactive")

    # Branding and portal address.
    admin.get_by_role("navigation").get_by_role("link", name="Branding").click()
    admin.get_by_label("Company name").fill("Sunrise Calls")
    admin.get_by_label("Primary color").fill(PRIMARY.lower())
    admin.get_by_label("Accent color").fill("#ffc914")
    admin.get_by_label("Portal slug").fill("sunrise")
    admin.get_by_role("button", name="Save branding").click()
    expect(admin.get_by_text("Branding saved.")).to_be_visible()
    expect(admin.get_by_label("Primary color")).to_have_value(PRIMARY.lower())

    # A credit package, and what it earns: 100 minutes cost €7.00 at €0.07.
    admin.get_by_role("navigation").get_by_role("link", name="Packages").click()
    admin.get_by_label("Credits").fill("100")
    admin.get_by_label("Price", exact=True).fill("40.00")
    admin.get_by_label("Currency").select_option("EUR")
    admin.get_by_role("button", name="Add package").click()
    expect(admin.get_by_text("Package added.")).to_be_visible()
    expect(admin.get_by_test_id("cost")).to_have_text("€7.00")
    expect(admin.get_by_test_id("profit")).to_have_text("€33.00")
    expect(admin.get_by_test_id("margin")).to_have_text("82.5%")

    # Stripe: one key (of an account on the stand-in); the portal sets the rest up. Only the key's
    # last four characters come back.
    key = stripe_account().secret_key
    admin.get_by_role("navigation").get_by_role("link", name="Stripe").click()
    admin.get_by_label("Stripe key").fill(key)
    admin.get_by_role("button", name="Save key and set up Stripe").click()
    expect(admin.get_by_text("Stripe is set up.")).to_be_visible()
    expect(admin.get_by_text(f"Stored: ends in …{key[-4:]}").first).to_be_visible()
    expect(admin.get_by_label("Stripe key")).to_have_value("")
    expect(admin.get_by_test_id("webhook-url")).to_have_text(f"http://localhost:{port}/api/webhooks/stripe/sunrise")
    admin.get_by_role("button", name="Check Stripe").click()
    expect(admin.get_by_text("Check Stripe: everything the portal needs is in place.")).to_be_visible()
    screenshots(admin, "console-stripe")

    # Activate.
    _seller_details(admin)
    admin.get_by_role("navigation").get_by_role("link", name="Overview").click()
    expect(admin.get_by_test_id("readiness-progress")).to_contain_text("5 of 6 done")
    admin.get_by_role("button", name="Activate portal").click()
    # No minutes yet: going live asks first, naming the consequence.
    expect(admin.get_by_test_id("confirm-consequence")).to_contain_text("You hold 0 call minutes")
    admin.get_by_role("button", name="Go live anyway").click()
    expect(admin.get_by_text("Your portal is live.")).to_be_visible()
    expect(admin.get_by_test_id("portal-status")).to_have_text("Active")
    portal_link = admin.get_by_test_id("portal-url")
    expect(portal_link).to_have_attribute("href", f"http://sunrise.localhost:{port}/")
    screenshots(admin, "console-dashboard")

    # A client, with cookies of its own, signs up on the agency's portal.
    client = new_page()
    client.goto(portal_link.get_attribute("href"))
    topbar = client.get_by_role("banner")
    expect(topbar).to_contain_text("Sunrise Calls")
    client.get_by_role("link", name="Create your account").click()
    _sign_up(client, company="Moonlight Bakery", email="anna@moonlight.example")

    expect(client).to_have_url(f"http://sunrise.localhost:{port}/")
    expect(client.get_by_test_id("org-name")).to_have_text("Moonlight Bakery")
    expect(client.get_by_test_id("credits-balance")).to_have_text("0")
    expect(topbar).to_contain_text("Sunrise Calls")
    expect(client).to_have_title(re.compile("Sunrise Calls"))
    expect(client.locator("body")).not_to_contain_text(settings.PLATFORM_NAME)
    expect(topbar).to_have_css("background-color", PRIMARY_RGB)  # getComputedStyle, with retries
    screenshots(client, "client-dashboard")

    # The agency sees its new client.
    admin.get_by_role("navigation").get_by_role("link", name="Users").click()
    client_row = admin.get_by_role("row").filter(has_text="anna@moonlight.example")
    expect(client_row).to_contain_text("Moonlight Bakery")


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

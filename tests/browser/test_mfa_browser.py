"""Two-factor sign-in in a real browser: a portal's client turns on an authenticator app, reading the
secret off the setup page as a phone without a camera would, then signs out and back in with a code.
Each page on the way is checked with axe-core at desktop and phone width."""

import re

import pytest
from playwright.sync_api import expect

from agencies import mfa
from tests.browser.signing_in import log_in, totp
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_client_turns_on_totp_and_signs_in_with_password_and_code(
    transactional_db, live_server, settings, make_agency, make_client_user, new_page, screenshots
):
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, company_name="Sunrise Calls", slug="sunrise")
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    base = f"http://{agency.slug}.localhost:{live_server.thread.port}"
    page = new_page()
    log_in(page, base, user.email)
    expect(page.get_by_role("button", name="Log out")).to_be_attached()

    # The account's two-factor page, from the menu, in the portal's own layout.
    page.get_by_role("link", name="Two-factor sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-Factor Authentication")
    expect(page.locator(".brand-name")).to_have_text("Sunrise Calls")
    screenshots(page, "portal-mfa-index")
    page.get_by_role("link", name="Activate").click()

    # allauth asks for the password again before a second factor is added.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    # The setup page: a QR code, and the secret in text for typing into an app by hand.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    screenshots(page, "portal-mfa-setup")
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Authenticator code").fill(totp(secret))
    page.get_by_role("button", name="Activate").click()

    # The recovery codes, shown once set up.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/$"))
    expect(page.get_by_label("Unused codes")).to_have_value(re.compile(r"^(\d{8}\n){9}\d{8}$"))
    screenshots(page, "portal-mfa-recovery-codes")
    assert mfa.mfa_enabled(user=user)

    # Out, and back in: the password, then a code from the app.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    log_in(page, base, user.email)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(page.locator(".brand-name")).to_have_text("Sunrise Calls")
    screenshots(page, "portal-mfa-authenticate")
    page.get_by_label("Code").fill(totp(secret, 1))  # the next one: each code signs in once
    page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_role("button", name="Log out")).to_be_attached()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_text("Moonlight Bakery").first).to_be_visible()

"""Security keys (WebAuthn) as a second factor in a real browser: Chromium's virtual authenticator, driven
through the DevTools protocol, stands in for a key plugged into USB. A portal's client adds a key, signs
out, and signs back in with the password and then the key. Each page on the way is checked with axe-core
at desktop and phone width."""

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from agencies import mfa
from agencies.models import AuditEntry
from tests.browser.signing_in import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# A USB key that holds its credentials and verifies its owner (a PIN or a touch), as a passkey-capable key does.
VIRTUAL_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def plug_in_key(page) -> tuple[object, str]:
    """Give the page's browser a virtual security key; the DevTools session and the key's id."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    key = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_KEY})
    return cdp, key["authenticatorId"]


def test_client_adds_a_security_key_and_signs_in_with_password_and_key(
    transactional_db, live_server, settings, make_agency, make_client_user, new_page, screenshots
):
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, company_name="Sunrise Calls", slug="sunrise")
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    base = f"http://{agency.slug}.localhost:{live_server.thread.port}"
    page = new_page()
    cdp, key_id = plug_in_key(page)
    log_in(page, base, user.email)
    expect(page.get_by_role("button", name="Log out")).to_be_attached()

    # The two-factor page offers both an authenticator app and security keys.
    page.get_by_role("link", name="Two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Security Keys")).to_be_visible()
    page.get_by_role("link", name="Add", exact=True).click()

    # allauth asks for the password again before a second factor is added.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    # The add page, in the portal's layout: name the key, then the browser asks the key to register.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/webauthn/add/$"))
    expect(page.locator(".brand-name")).to_have_text("Sunrise Calls")
    screenshots(page, "portal-webauthn-add")
    page.get_by_label("Name").fill("Blue key")
    page.get_by_role("button", name="Add").click()

    # Recovery codes come with the first key, as with an authenticator app.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/$"))
    expect(page.get_by_label("Unused codes")).to_have_value(re.compile(r"^(\d{8}\n){9}\d{8}$"))
    assert mfa.mfa_enabled(user=user)
    key = Authenticator.objects.get(user=user, type=Authenticator.Type.WEBAUTHN)
    assert str(key) == "Blue key"
    # Bound to this portal's host: the browser offers it on sunrise.localhost only.
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": key_id})["credentials"]
    assert [c["rpId"] for c in credentials] == ["sunrise.localhost"]
    assert AuditEntry.objects.filter(action="mfa.key_add", actor_id=user.pk).count() == 1

    # The list of keys, and renaming one.
    page.goto(f"{base}/accounts/2fa/webauthn/")
    expect(page.get_by_role("cell", name=re.compile("Blue key"))).to_be_visible()
    screenshots(page, "portal-webauthn-list")
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/accounts/2fa/webauthn/keys/{key.pk}/edit/$"))
    screenshots(page, "portal-webauthn-edit")
    page.get_by_label("Name").fill("Desk key")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name=re.compile("Desk key"))).to_be_visible()

    # Out, and back in: the password, then the key.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    log_in(page, base, user.email)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(page.locator(".brand-name")).to_have_text("Sunrise Calls")
    screenshots(page, "portal-webauthn-authenticate")
    page.get_by_role("button", name="Use a security key").click()

    expect(page.get_by_role("button", name="Log out")).to_be_attached()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_text("Moonlight Bakery").first).to_be_visible()
    key.refresh_from_db()
    assert key.last_used_at is not None

    # Removing the key (allauth asks to confirm) turns two-factor sign-in off, audited.
    page.goto(f"{base}/accounts/2fa/webauthn/")
    page.get_by_role("link", name="Remove", exact=True).click()
    # allauth asks to confirm it is still the owner first: the key will do instead of the password.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_role("link", name="Use a security key").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/webauthn/reauthenticate/"))
    screenshots(page, "portal-webauthn-reauthenticate")
    page.get_by_role("button", name="Use a security key").click()
    expect(page).to_have_url(re.compile(rf"/accounts/2fa/webauthn/keys/{key.pk}/remove/$"))
    screenshots(page, "portal-webauthn-remove")
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No security keys have been added.")).to_be_visible()
    assert not mfa.mfa_enabled(user=user)
    assert AuditEntry.objects.filter(action="mfa.key_remove", actor_id=user.pk).count() == 1

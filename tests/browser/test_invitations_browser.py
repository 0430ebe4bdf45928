"""Invitations in a real browser: an owner invites, the invitee follows the emailed link, chooses a
password and lands signed in, on the portal (a client organization) and on the console (an agency)."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.signing_in import log_in

pytestmark = pytest.mark.browser

LINK = re.compile(r"https?://\S+/invitations/[A-Za-z0-9_-]+/")
NEW_PASSWORD = "a-browser-invitee-password-7"


def _log_in(page, base: str, email: str) -> None:
    log_in(page, base, email)
    expect(page.get_by_role("button", name="Log out")).to_be_attached()


def _invite(page, accessible, email: str, role: str) -> str:
    """From any page: open Invitations in the menu, invite, and return the emailed link."""
    page.get_by_role("navigation").get_by_role("link", name="Invitations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invitations")
    accessible(page)
    sent_before = len(mail.outbox)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Role").select_option(role)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {email.lower()}.")).to_be_visible()
    expect(page.get_by_test_id("invitation-row")).to_contain_text(email.lower())
    accessible(page)
    (message,) = mail.outbox[sent_before:]
    match = LINK.search(str(message.body))
    assert match, message.body
    return match.group(0)


def _accept(page, accessible, link: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Join")
    accessible(page)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password (again)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account and join").click()


def test_client_owner_invites_a_billing_member_who_accepts_and_lands_signed_in(
    transactional_db, live_server, settings, new_page, accessible, screenshots, make_agency, make_client_user
):
    port = live_server.thread.port
    settings.PORTAL_PUBLIC_PORT = str(port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    owner = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    base = f"http://sunrise.localhost:{port}"

    page = new_page()
    _log_in(page, base, owner.email)
    link = _invite(page, accessible, "Ben@Moonlight.example", "billing")
    assert link.startswith(f"{base}/invitations/")

    screenshots(page, "portal-invitations")  # and axe at phone width too

    invitee = new_page()
    invitee.goto(link)
    screenshots(invitee, "portal-invitation-accept")
    _accept(invitee, accessible, link)
    expect(invitee.get_by_text("Welcome to Moonlight Bakery.")).to_be_visible()
    expect(invitee.get_by_role("button", name="Log out")).to_be_attached()
    expect(invitee.locator(".who")).to_have_text("ben@moonlight.example")
    expect(invitee).to_have_url(f"{base}/")
    accessible(invitee)

    # The link is spent: opened again, it says so.
    again = new_page()
    again.goto(link)
    expect(again.get_by_role("heading", level=1)).to_have_text("Invitation already used")
    accessible(again)

    # The owner's list no longer shows it as pending.
    page.reload()
    expect(page.get_by_test_id("invitation-row")).to_have_count(0)


def test_agency_owner_invites_an_admin_who_lands_on_the_console(
    transactional_db, live_server, settings, new_page, accessible, make_agency
):
    port = live_server.thread.port
    settings.PORTAL_PUBLIC_PORT = str(port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    base = f"http://localhost:{port}"

    page = new_page()
    _log_in(page, base, agency.admin.email)
    link = _invite(page, accessible, "carla@sunrise.example", "admin")
    assert link.startswith(f"{base}/invitations/")

    invitee = new_page()
    _accept(invitee, accessible, link)
    expect(invitee).to_have_url(f"{base}/console/")
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Sunrise Calls")
    expect(invitee.locator(".who")).to_have_text("carla@sunrise.example")

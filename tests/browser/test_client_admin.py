"""The console's client page in a real browser: an agency admin opens a client from Users, reads it,
writes a note and suspends it; the client's portal says why. Both pages pass axe-core at both widths."""

import pytest
from playwright.sync_api import expect

from billing import ledger
from tests.browser.signing_in import log_in

pytestmark = [pytest.mark.browser]


def test_agency_opens_a_client_notes_and_suspends_it_and_the_portal_says_why(
    transactional_db, live_server, settings, make_agency, make_client_user, new_page, screenshots
):
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    ledger.credits_allocate(
        organization=user.organization, amount=300, description="Welcome", actor=None, reference="welcome"
    )
    console = f"http://localhost:{live_server.thread.port}"
    page = new_page()
    log_in(page, console, agency.admin.email)
    page.goto(f"{console}/console/users/")
    page.get_by_role("link", name="Moonlight Bakery").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Moonlight Bakery")
    expect(page.get_by_test_id("client-balance")).to_have_text("300")
    screenshots(page, "console-client")

    page.get_by_label("Notes").fill("Pays by bank transfer.")
    page.get_by_role("button", name="Save notes").click()
    expect(page.get_by_label("Notes")).to_have_value("Pays by bank transfer.")
    page.get_by_label("Reason (shown to the client)").fill("Unpaid invoice 2026-0012")
    page.get_by_role("button", name="Suspend Moonlight Bakery").click()
    expect(page.get_by_test_id("client-suspended")).to_contain_text("Unpaid invoice 2026-0012")
    screenshots(page, "console-client-suspended")

    portal = new_page()
    log_in(portal, f"http://sunrise.localhost:{live_server.thread.port}", user.email)
    expect(portal.get_by_test_id("suspended-banner")).to_contain_text("Unpaid invoice 2026-0012")
    expect(portal.get_by_text("Pays by bank transfer.")).to_have_count(0)
    screenshots(portal, "portal-suspended")

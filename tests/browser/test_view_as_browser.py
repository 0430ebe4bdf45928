"""View as client in a real browser: the agency owner presses "View as client" on a client's console page,
lands on the client's portal dashboard under the banner (which passes axe-core at both widths), and ends it,
back on the console."""

import pytest
from playwright.sync_api import expect

from agencies.models import AuditEntry
from tests.browser.signing_in import log_in
from tests.conftest import credits_add

pytestmark = [pytest.mark.browser]


def test_the_agency_owner_views_a_clients_portal_and_ends_it(
    transactional_db, live_server, settings, make_agency, make_client_user, new_page, screenshots
):
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    credits_add(user.organization, 300)
    console = f"http://localhost:{live_server.thread.port}"
    portal = f"http://sunrise.localhost:{live_server.thread.port}"

    page = new_page()
    log_in(page, console, agency.admin.email)
    page.goto(f"{console}/console/ops/clients/{user.organization.pk}/")
    page.get_by_role("button", name="View as client").click()

    # The client's own dashboard on its portal, without its password.
    expect(page).to_have_url(f"{portal}/")
    banner = page.get_by_test_id("view-as-banner")
    expect(banner).to_contain_text(f"You are viewing Moonlight Bakery as {agency.admin.email}. Read-only.")
    expect(page.get_by_text("300").first).to_be_visible()
    expect(page.locator(".who")).to_have_text(user.email)
    screenshots(page, "portal-view-as")

    banner.get_by_role("button", name="End").click()
    expect(page).to_have_url(f"{console}/console/ops/clients/{user.organization.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Moonlight Bakery")
    page.goto(f"{portal}/")
    expect(page.get_by_test_id("view-as-banner")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")).to_be_visible()
    assert list(
        AuditEntry.objects.filter(action__startswith="view_as.").order_by("pk").values_list("action", flat=True)
    ) == [
        "view_as.start",
        "view_as.end",
    ]

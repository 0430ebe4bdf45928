"""The console's guidance in a real browser: the branding preview follows the colour picked and warns
about contrast before saving; the domain page offers copy buttons; confirmations work; all pass axe."""

import pytest
from playwright.sync_api import expect

from agencies import services
from tests.browser.signing_in import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def console(transactional_db, live_server, settings, make_agency, make_client_user, new_page):
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(slug="sunrise", company_name="Sunrise Calls", active=True)
    make_client_user(agency)
    url = f"http://localhost:{live_server.thread.port}"
    page = new_page()
    log_in(page, url, agency.admin.email)
    return page, agency, url


def test_the_branding_preview_follows_the_colour_and_warns_about_contrast(console, screenshots):
    page, _agency, url = console
    page.goto(f"{url}/console/branding/")
    warning = page.get_by_test_id("contrast-warning")
    expect(warning).to_be_hidden()  # the saved #123456 reads on white
    page.get_by_label("Primary color").fill("#fde68a")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("#FDE68A")
    bar = page.locator('[data-preview="bar"]')
    expect(bar).to_have_css("background-color", "rgb(253, 230, 138)")
    screenshots(page, "console-branding-preview")
    page.get_by_label("Primary color").fill("#1e3a8a")
    expect(warning).to_be_hidden()


def test_the_overview_readiness_and_switching_off_asks_first(console, screenshots):
    page, _agency, url = console
    page.goto(f"{url}/console/")
    expect(page.get_by_test_id("readiness-progress")).to_contain_text("of 6 done")
    expect(page.get_by_test_id("coverage-line")).to_contain_text("you hold 0 minutes")
    screenshots(page, "console-overview-readiness")
    page.get_by_role("button", name="Switch portal off").click()
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text("1 client will see")
    screenshots(page, "console-confirm-switch-off")
    page.get_by_role("button", name="Switch portal off").click()
    expect(page.get_by_text("Your portal is switched off.")).to_be_visible()


def test_the_domain_page_waits_for_dns_and_offers_copy_buttons(console, screenshots):
    page, agency, url = console
    services.agency_set_domain(agency=agency, domain="portal.sunrise-calls.example")
    page.goto(f"{url}/console/domain/")
    expect(page.get_by_test_id("domain-status")).to_have_text("Waiting for DNS")
    expect(page.get_by_test_id("cname-host")).to_have_text("portal")
    expect(page.get_by_role("button", name="Copy").first).to_be_visible()
    screenshots(page, "console-domain-waiting")

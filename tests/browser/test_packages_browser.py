"""Package management in a real browser, checked with axe at desktop and phone widths: the margin
net of VAT, edit, hide, reorder, and the removal that asks first."""

import pytest
from playwright.sync_api import expect

from agencies import services
from tests.browser.signing_in import log_in
from tests.invoices.conftest import seller_set

pytestmark = pytest.mark.browser


def test_an_agency_manages_its_packages_from_the_packages_page(
    transactional_db, live_server, settings, make_agency, new_page, screenshots
):
    settings.PLATFORM_MINUTE_PRICE_CENTS = 7
    agency = make_agency(slug="pkgs", company_name="Package Co")
    seller_set(agency, country="NL", vat_id="", include=True)
    services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
    services.package_create(agency=agency, credits=500, price_cents=15000, currency="EUR")

    page = new_page()
    log_in(page, live_server.url, agency.admin.email)
    page.goto(f"{live_server.url}/console/packages/")

    first = page.get_by_test_id("package-row").first
    expect(first.get_by_test_id("net")).to_have_text("€33.06")
    expect(first.get_by_test_id("profit")).to_have_text("€26.06")
    expect(page.get_by_test_id("vat-hint")).to_contain_text("net of VAT")
    screenshots(page, "console-packages")

    page.get_by_role("button", name="Hide 100 credits for 40.00 EUR").click()
    expect(page.get_by_test_id("package-row").first.get_by_test_id("visibility")).to_contain_text("Hidden")
    page.get_by_role("button", name="Move 500 credits for 150.00 EUR up").click()
    expect(page.get_by_test_id("package-row").first).to_contain_text("€150.00")

    page.get_by_role("link", name="Edit 500 credits for 150.00 EUR").click()
    page.get_by_label("Price", exact=True).fill("140.00")
    screenshots(page, "console-package-edit")
    page.get_by_role("button", name="Save package").click()
    expect(page.get_by_test_id("package-row").first).to_contain_text("€140.00")

    page.get_by_role("link", name="Remove 100 credits for 40.00 EUR").click()
    expect(page.get_by_test_id("consequence")).to_contain_text("Clients will no longer see 100 credits for €40.00")
    screenshots(page, "console-package-remove")
    page.get_by_role("button", name="Remove 100 credits for €40.00").click()
    expect(page.get_by_text("Package removed.")).to_be_visible()
    expect(page.get_by_test_id("package-row")).to_have_count(1)

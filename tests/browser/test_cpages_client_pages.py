"""The client's dashboard, billing history and a day of usage, and the console's purchases filter, in a
real browser at desktop and phone widths, checked with axe-core."""

import pytest
from playwright.sync_api import expect

from agencies.models import CreditPackage
from billing.models import Purchase
from tests.browser.signing_in import log_in
from tests.conftest import credits_add, minutes_add
from usage.ingest import usage_ingest

pytestmark = pytest.mark.browser


@pytest.mark.now("2026-03-15T12:00:00Z")
def test_dashboard_history_and_usage_day_are_usable_and_accessible(
    transactional_db, live_server, settings, make_agency, make_client_user, new_page, screenshots
):
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    CreditPackage.objects.create(agency=agency, credits=500, price_cents=15000, currency="EUR")
    minutes_add(agency, 10_000)
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    organization = user.organization
    credits_add(organization, 12)
    usage_ingest(
        agency_id=agency.pk,
        records=[
            {
                "id": f"call-{n}",
                "organization_id": organization.pk,
                "duration_sec": 60,
                "created_at": f"2026-03-{13 + n % 2}T10:0{n}:00Z",
                "number_id": "number-1",
                "direction": "outbound",
            }
            for n in range(3)
        ],
    )
    Purchase.objects.create(
        reference="bank-debit-1",
        agency=agency,
        organization=organization,
        package=agency.packages.order_by("credits").first(),
        credits=100,
        amount_cents=4000,
        currency="EUR",
        stripe_session_id="cs_test_bank_debit_1",
        livemode=False,
        status=Purchase.Status.PROCESSING,
    )
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"

    page = new_page()
    log_in(page, portal, user.email)
    expect(page.get_by_test_id("credits-balance")).to_have_text("9")
    expect(page.get_by_test_id("low-balance")).to_be_visible()
    expect(page.get_by_test_id("pending-purchase")).to_contain_text("100 credits for €40.00")
    expect(page.get_by_test_id("recent-call")).to_have_count(3)
    screenshots(page, "client-dashboard")

    page.get_by_role("navigation").get_by_role("link", name="Billing").click()
    expect(page.get_by_test_id("history-row")).to_have_count(3)  # the allocation and two days of calls
    page.get_by_label("Show").select_option("usage")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("history-row")).to_have_count(2)
    screenshots(page, "client-billing-history")

    page.get_by_role("link", name="2 calls").click()
    expect(page.get_by_role("heading", name="Calls on 2026-03-13 (UTC)")).to_be_visible()
    screenshots(page, "client-usage-day")

    page.get_by_role("navigation").get_by_role("link", name="Buy credits").click()
    expect(page.get_by_test_id("best-value")).to_have_count(1)
    screenshots(page, "client-buy-best-value")

    admin = new_page()
    log_in(admin, f"http://localhost:{live_server.thread.port}", agency.admin.email)
    admin.goto(f"http://localhost:{live_server.thread.port}/console/billing/purchases/")
    expect(admin.get_by_test_id("purchase-row")).to_have_count(1)
    screenshots(admin, "console-purchases-filter")

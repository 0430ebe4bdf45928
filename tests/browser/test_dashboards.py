"""Dashboards in a real browser, at desktop and phone widths: an agency buys minutes from the
platform on the Stripe stand-in and reads its business dashboard; a client reads its usage chart."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import ledger
from ops import alerts
from tests.browser.conftest import PHONE
from tests.browser.signing_in import log_in
from tests.conftest import NOON
from tests.stripe_fixtures import stripe_account, stripe_base, stripe_standin  # noqa: F401
from usage.ingest import usage_ingest

# Calls are placed "n days ago" and charted by UTC day: the calendar must hold still. (Chromium keeps the
# real clock, but what it checks, cookies' Max-Age, counts from when it received them.)
pytestmark = [pytest.mark.browser, pytest.mark.now(NOON)]


def _record(organization, n: int, minutes: int, days_ago: int) -> dict:
    moment = timezone.now() - timedelta(days=days_ago, minutes=10)
    return {
        "id": f"browser-call-{n}",
        "organization_id": organization.pk,
        "duration_sec": minutes * 60,
        "created_at": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "number_id": "number-1",
        "direction": "outbound",
    }


@pytest.fixture
def business(transactional_db, live_server, settings, make_agency, make_client_user, stripe_account):  # noqa: F811
    """An agency on the live server with two clients who made calls, and the platform's account on the stand-in."""
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    platform = stripe_account()
    endpoint = platform.client.v1.webhook_endpoints.create(
        {
            "url": f"{live_server.url}/api/webhooks/stripe/platform",
            "enabled_events": ["*"],
        }
    )
    settings.PLATFORM_STRIPE_SECRET_KEY = platform.secret_key
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = endpoint.secret
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    ledger.minutes_add(agency=agency, amount=500, description="Opening balance", actor=None, reference="open")
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    low = make_client_user(agency, company_name="Tiny Shop").organization
    for organization, credits in ((user.organization, 300), (low, 12)):
        ledger.credits_allocate(
            organization=organization,
            amount=credits,
            description="Welcome",
            actor=None,
            reference=f"welcome-{organization.pk}",
        )
    alerts.alert_settings_save(organization=low, threshold=20, webhook_url="")
    usage_ingest(
        agency_id=agency.pk,
        records=[_record(user.organization, n, minutes=n % 7 + 1, days_ago=n % 30) for n in range(40)],
    )
    return agency, user


def _chart_fits(page, viewport_width: int) -> None:
    """The chart image for this width is the one loaded (the phone drawing is taller), and it fits the screen."""
    image = page.get_by_test_id("daily-chart").get_by_test_id("chart-image")
    expect(image).to_be_visible()
    size = "desktop" if viewport_width > 600 else "phone"
    page.wait_for_function(
        "([img, size]) => img.complete && img.currentSrc.includes(`chart-${size}.svg`)",
        arg=[image.element_handle(), size],
        timeout=10_000,
    )
    natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")  # 0 when the image is broken
    assert natural == ([800, 300] if size == "desktop" else [360, 300])
    box = image.bounding_box()
    assert box["width"] > 250 and box["x"] >= 0 and box["x"] + box["width"] <= viewport_width


def test_agency_buys_minutes_and_reads_its_business_dashboard(
    business,
    live_server,
    stripe_base,  # noqa: F811
    new_page,
    screenshots,
):
    agency, _ = business
    console = f"http://localhost:{live_server.thread.port}"
    page = new_page()
    log_in(page, console, agency.admin.email)

    page.get_by_role("navigation").get_by_role("link", name="Buy minutes").click()
    page.get_by_label("Minutes").fill("2000")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(stripe_base)}/c/pay/cs_test_"))
    expect(page.get_by_test_id("amount")).to_have_text("140.00 EUR")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(console)}/console/billing/minutes/success/"))
    expect(page.get_by_test_id("minutes-added")).to_have_text("+2,000 minutes")

    page.get_by_role("navigation").get_by_role("link", name="Business").click()
    used = sum(n % 7 + 1 for n in range(40))
    expect(page.get_by_test_id("minutes-balance")).to_have_text(f"{2500 - used:,}")
    expect(page.get_by_test_id("minutes-used")).to_have_text(str(used))
    expect(page.get_by_test_id("low-client")).to_have_count(1)
    expect(page.get_by_test_id("low-client")).to_contain_text("Tiny Shop")
    _chart_fits(page, 1280)
    page.get_by_text("Show as a table").click()
    expect(page.get_by_test_id("chart-table").locator("tbody tr")).to_have_count(30)
    screenshots(page, "agency-business-dashboard")
    page.set_viewport_size(PHONE)
    _chart_fits(page, PHONE["width"])


def test_client_sees_its_usage_chart_and_report(business, live_server, new_page, screenshots):
    agency, user = business
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"
    page = new_page()
    log_in(page, portal, user.email)

    page.get_by_role("navigation").get_by_role("link", name="Usage report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage report")
    _chart_fits(page, 1280)
    expect(page.get_by_test_id("range-row")).to_have_count(40)
    expect(page.get_by_test_id("csv-link")).to_be_visible()
    screenshots(page, "client-usage-report")
    page.set_viewport_size(PHONE)
    _chart_fits(page, PHONE["width"])

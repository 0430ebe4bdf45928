"""A client turns auto-reload on in a real browser, then sees the reload a drop below the threshold made,
and a pause; axe-core checks the page in each state."""

import pytest
from playwright.sync_api import expect

from billing import ledger, reload_charge
from billing.models import AutoReload, AutoReloadAttempt
from tests.billing.topups import saved_method
from tests.browser.signing_in import log_in
from tests.conftest import credits_add
from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_standin  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_client_turns_auto_reload_on_and_sees_its_consent_charges_and_pause(
    request, transactional_db, live_server, settings, make_client_user, new_page, accessible
):
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = request.getfixturevalue("stripe_agency")(slug="refill", company_name="Refill Calls")
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    organization = user.organization
    saved_method(agency, organization, "pm_card_visa")
    credits_add(organization, 100)
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"

    page = new_page()
    log_in(page, portal, user.email)
    page.goto(f"{portal}/billing/auto-reload/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Auto-reload")
    accessible(page)

    page.get_by_label("Reload automatically").check()
    page.get_by_label("When the balance falls below").fill("50")
    page.get_by_label("Charge (EUR)").fill("20.00")
    page.get_by_label("Payment method").select_option(index=1)
    expect(page.get_by_label("Payment method")).to_contain_text("Visa ending 4242, expires ")
    page.get_by_label("Monthly cap (EUR)").fill("10")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("monthly cap must be at least the amount")).to_be_visible()
    accessible(page)
    page.get_by_label("Monthly cap (EUR)").fill("100.00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Auto-reload settings saved.")).to_be_visible()
    expect(page.get_by_test_id("consent")).to_contain_text("Agreed by anna@moonlight.example")
    expect(page.get_by_test_id("consent")).to_contain_text("€20.00 each time below 50 credits, at most €100.00 a month")

    ledger.entry_post(organization=organization, amount=-60, kind="usage", reference="calls")
    attempt = AutoReloadAttempt.objects.get()
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == "succeeded"
    AutoReload.objects.update(paused_at=attempt.created_at, paused_reason="the card was declined as lost card.")
    page.reload()
    expect(page.get_by_test_id("attempt-status")).to_have_text("Succeeded")
    expect(page.get_by_test_id("charged-this-month")).to_have_text("€20.00")
    expect(page.get_by_test_id("paused")).to_be_visible()
    accessible(page)

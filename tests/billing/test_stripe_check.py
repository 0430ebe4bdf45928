"""Check Stripe: each problem with the agency's Stripe set-up is found and said in one sentence with its fix."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from agencies import services
from agencies.models import Agency
from billing import provisioning, stripe_api
from billing.stripe_check import stripe_check, stripe_check_daily, stripe_check_due
from tests.conftest import NOON

REPAIR = "press “Set up again” on the Stripe page."


def test_a_fresh_set_up_has_no_problems_and_the_result_is_stored(keyed_agency):
    agency = keyed_agency()
    assert stripe_check(agency=agency) == []
    saved = Agency.objects.get(pk=agency.pk)
    assert saved.stripe_checked_at is not None and saved.stripe_check_problems == []


def test_a_deleted_endpoint_is_found(keyed_agency):
    agency = keyed_agency()
    agency.stripe.client.v1.webhook_endpoints.delete(agency.stripe_webhook_endpoint_id)
    assert stripe_check(agency=agency) == [
        (
            f"The webhook endpoint {agency.stripe_webhook_endpoint_id} was deleted in Stripe, "
            f"so payments are not reported: {REPAIR}"
        )
    ]
    assert Agency.objects.get(pk=agency.pk).stripe_check_problems == stripe_check(agency=agency)


def test_a_disabled_endpoint_is_found(keyed_agency):
    agency = keyed_agency()
    agency.stripe.client.v1.webhook_endpoints.update(agency.stripe_webhook_endpoint_id, {"disabled": True})
    assert stripe_check(agency=agency) == [
        (
            f"The webhook endpoint {agency.stripe_webhook_endpoint_id} is disabled in Stripe: enable it in "
            f"Stripe → Developers → Webhooks, or {REPAIR}"
        )
    ]


def test_a_missing_event_is_found(keyed_agency):
    agency = keyed_agency()
    events = [e for e in stripe_api.WEBHOOK_EVENTS if e != "charge.refunded"]
    agency.stripe.client.v1.webhook_endpoints.update(agency.stripe_webhook_endpoint_id, {"enabled_events": events})
    assert stripe_check(agency=agency) == [
        f"The webhook endpoint {agency.stripe_webhook_endpoint_id} does not send charge.refunded: {REPAIR}"
    ]


def test_an_endpoint_pointing_elsewhere_is_found(keyed_agency):
    agency = keyed_agency(slug="acme")
    agency.stripe.client.v1.webhook_endpoints.update(
        agency.stripe_webhook_endpoint_id, {"url": "https://old-portal.example/api/webhooks/stripe/acme"}
    )
    assert stripe_check(agency=agency) == [
        f"The webhook endpoint {agency.stripe_webhook_endpoint_id} sends events to "
        "https://old-portal.example/api/webhooks/stripe/acme, not to http://localhost/api/webhooks/stripe/acme: "
        + REPAIR
    ]


def test_an_archived_price_is_found(keyed_agency):
    agency = keyed_agency()
    price_id = agency.packages.get().stripe_price_id
    agency.stripe.client.v1.prices.update(price_id, {"active": False})
    assert stripe_check(agency=agency) == [
        f"The price {price_id} of the package 100 credits for €40.00 is archived in Stripe: {REPAIR}"
    ]


def test_a_package_without_a_price_and_an_archived_product_are_found(keyed_agency):
    agency = keyed_agency()
    services.package_create(agency=agency, credits=300, price_cents=9900, currency="EUR")
    agency.stripe.client.v1.products.update(agency.stripe_product_id, {"active": False})
    assert stripe_check(agency=agency) == [
        f"The product {agency.stripe_product_id} is archived in Stripe: {REPAIR}",
        f"The package 300 credits for €99.00 has no price in Stripe yet: {REPAIR}",
    ]


def test_set_up_again_repairs_every_problem(console, keyed_agency):
    agency = keyed_agency()
    client = agency.stripe.client
    client.v1.webhook_endpoints.update(agency.stripe_webhook_endpoint_id, {"disabled": True})
    client.v1.prices.update(agency.packages.get().stripe_price_id, {"active": False})
    console.force_login(agency.admin)
    response = console.post("/console/stripe/check/", follow=True)
    assert "Check Stripe found 2 problems." in response.text
    assert "is disabled in Stripe" in response.text and "is archived in Stripe" in response.text
    response = console.post("/console/stripe/repair/", follow=True)
    assert "Stripe is set up." in response.text
    response = console.post("/console/stripe/check/", follow=True)
    assert "Check Stripe: everything the portal needs is in place." in response.text


def test_a_revoked_key_is_found(keyed_agency):
    agency = keyed_agency()
    Agency.objects.filter(pk=agency.pk).update(stripe_secret_key="sk_test_RevokedKey00000000")
    agency.refresh_from_db()
    [problem] = stripe_check(agency=agency)
    assert problem.startswith("Stripe refused this key")
    assert "RevokedKey" not in problem


def test_a_restricted_key_that_lost_a_permission_is_named(keyed_agency):
    agency = keyed_agency()
    codes = [p.code for p in provisioning.KEY_PERMISSIONS if p.code != "webhook_endpoints:write"]
    key = agency.stripe.call("/_standin/restricted_keys", {f"permissions[{i}]": c for i, c in enumerate(codes)})
    Agency.objects.filter(pk=agency.pk).update(stripe_secret_key=key["secret_key"])
    agency.refresh_from_db()
    assert stripe_check(agency=agency) == [
        (
            "This restricted key may not read Webhook Endpoints: in Stripe → Developers → API keys, "
            "edit the key and set Webhook Endpoints to Write."
        )
    ]


@pytest.mark.now(NOON, tick=False)
def test_the_daily_task_checks_each_live_agency_once_a_day(keyed_agency, clock):
    live = keyed_agency()
    services.agency_set_active(agency=live, active=True)
    keyed_agency()  # not live: checked before it goes live, not daily
    Agency.objects.filter(pk=live.pk).update(stripe_checked_at=None)
    assert stripe_check_due() == [live.pk]
    assert stripe_check_due() == []
    live.stripe.client.v1.webhook_endpoints.delete(live.stripe_webhook_endpoint_id)
    clock.shift(timedelta(hours=23))
    assert stripe_check_due() == []
    clock.shift(timedelta(hours=1))
    assert stripe_check_due() == [live.pk]
    [problem] = Agency.objects.get(pk=live.pk).stripe_check_problems
    assert "was deleted in Stripe" in problem


def test_the_schedule_command_starts_the_daily_check_once_and_a_run_queues_the_next(keyed_agency, settings):
    settings.STRIPE_CHECK_SWEEP_SECONDS = 3600
    live = keyed_agency()
    services.agency_set_active(agency=live, active=True)
    Agency.objects.filter(pk=live.pk).update(stripe_checked_at=None)
    call_command("stripe_check_schedule")
    call_command("stripe_check_schedule")
    waiting = DBTaskResult.objects.filter(task_path=stripe_check_daily.module_path, status=TaskResultStatus.READY)
    assert waiting.count() == 1
    waiting.delete()
    assert stripe_check_daily.call() == 1  # the live agency, checked
    [next_run] = DBTaskResult.objects.filter(task_path=stripe_check_daily.module_path, status=TaskResultStatus.READY)
    assert timedelta(minutes=59) < next_run.run_after - timezone.now() <= timedelta(hours=1)
    assert Agency.objects.get(pk=live.pk).stripe_checked_at is not None


def test_the_advanced_set_up_is_checked_too(stripe_agency):
    agency = stripe_agency(slug="typed")
    assert stripe_check(agency=agency) == [
        f"No webhook endpoint in Stripe sends events to http://localhost/api/webhooks/stripe/typed: {REPAIR}"
    ]
    agency.stripe.client.v1.webhook_endpoints.create(
        {"url": "http://localhost/api/webhooks/stripe/typed", "enabled_events": stripe_api.WEBHOOK_EVENTS}
    )
    assert stripe_check(agency=agency) == []
    agency.stripe.client.v1.prices.update(agency.stripe_price_id, {"active": False})
    assert stripe_check(agency=agency) == [
        f"The price {agency.stripe_price_id} entered under Advanced is archived in Stripe: correct it, or {REPAIR}"
    ]


def test_the_dashboard_shows_what_the_last_check_found(console, keyed_agency):
    agency = keyed_agency()
    agency.stripe.client.v1.webhook_endpoints.delete(agency.stripe_webhook_endpoint_id)
    stripe_check(agency=agency)
    console.force_login(agency.admin)
    text = console.get("/console/").text
    assert "Stripe needs attention" in text
    assert f"The webhook endpoint {agency.stripe_webhook_endpoint_id} was deleted in Stripe" in text

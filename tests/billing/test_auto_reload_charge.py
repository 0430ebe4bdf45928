"""Auto-reload charges on the stand-in: once per crossing, at most once an hour, never above the cap;
declines pause it and tell the owner."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from billing import auto_reload, ledger, reload_charge
from billing.models import AutoReload, AutoReloadAttempt, LedgerEntry
from tests.billing.topups import saved_method
from tests.conftest import credits_add

pytestmark = pytest.mark.django_db
Status = AutoReloadAttempt.Status
START = "2026-11-20 10:00:00+00:00"
_refs = iter(range(1, 10_000))


@pytest.fixture
def shop(stripe_agency, make_client_user):
    """A client of a stand-in agency (40 cents a credit) with 100 credits; auto-reload is set per test."""
    agency = stripe_agency()
    user = make_client_user(agency, email="owner@example.com")
    credits_add(user.organization, 100)
    return agency, user.organization


def _enable(shop, token="pm_card_visa", *, amount=2000, cap=10000):
    agency, org = shop
    return auto_reload.auto_reload_update(
        organization=org,
        changes={
            "enabled": True,
            "threshold": 50,
            "amount_cents": amount,
            "payment_method_id": saved_method(agency, org, token),
            "monthly_cap_cents": cap,
        },
        by="owner@example.com",
    )


def _drop_below(org) -> AutoReloadAttempt:
    """Debit the client to 40 credits (below 50), or by one when it is there already; the reload it queues."""
    org.refresh_from_db()
    amount = max(1, org.credits_balance - 40)
    ledger.entry_post(organization=org, amount=-amount, kind="usage", reference=f"call-{next(_refs)}")
    return AutoReloadAttempt.objects.get(status=Status.QUEUED)


def _balance(org) -> int:
    org.refresh_from_db()
    return org.credits_balance


def test_a_reload_credits_once_and_its_ledger_entry_says_why(shop):
    _, org = shop
    _enable(shop)
    attempt = _drop_below(org)
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SUCCEEDED
    assert _balance(org) == 90
    attempt.refresh_from_db()
    assert attempt.purchase.kind == "auto_reload" and attempt.charged_cents == 2000
    entry = LedgerEntry.objects.get(purchase=attempt.purchase)
    assert entry.amount == 50
    assert entry.description == "Auto-reload: balance 40 fell below 50; reloading 50 credits"
    # The task running again (a redelivery, a sweep) charges nothing more.
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SUCCEEDED
    assert _balance(org) == 90 and LedgerEntry.objects.filter(purchase__isnull=False).count() == 1
    assert not mail.outbox


def test_a_charge_whose_worker_died_is_finished_under_the_same_key_without_charging_twice(shop):
    agency, org = shop
    _enable(shop)
    attempt = _drop_below(org)
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SUCCEEDED
    # As if the worker had died after Stripe charged and before it recorded the outcome.
    AutoReloadAttempt.objects.filter(pk=attempt.pk).update(status=Status.PROCESSING)
    attempt.refresh_from_db()
    later = attempt.charged_at + reload_charge.STALE + timedelta(seconds=1)
    assert attempt.pk in reload_charge.attempts_due(now=later)
    assert reload_charge.attempt_process(attempt_id=attempt.pk, now=later) == Status.SUCCEEDED
    assert _balance(org) == 90
    intents = agency.stripe.client.v1.payment_intents.list({"limit": 100}).data
    assert len(intents) == 1


def test_at_most_one_automatic_charge_an_hour_a_second_waits_its_turn(shop):
    _, org = shop
    _enable(shop)
    with time_machine.travel(START, tick=False) as clock:
        first = _drop_below(org)
        assert reload_charge.attempt_process(attempt_id=first.pk) == Status.SUCCEEDED
        clock.shift(timedelta(minutes=10))
        second = _drop_below(org)
        assert reload_charge.attempt_process(attempt_id=second.pk) == "waiting"
        assert _balance(org) == 40
        clock.shift(timedelta(minutes=49))
        assert reload_charge.attempt_process(attempt_id=second.pk) == "waiting"
        clock.shift(timedelta(minutes=1))
        assert second.pk in reload_charge.attempts_due()
        assert reload_charge.attempt_process(attempt_id=second.pk) == Status.SUCCEEDED
        assert _balance(org) == 90


def test_the_monthly_cap_is_never_exceeded_and_the_owner_is_told(shop):
    _, org = shop
    _enable(shop, amount=2000, cap=5000)
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(2):
            attempt = _drop_below(org)
            assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SUCCEEDED
            clock.shift(timedelta(hours=2))
        attempt = _drop_below(org)
        assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SKIPPED_CAP
    assert _balance(org) == 40
    assert auto_reload.charged_this_month(setting=AutoReload.objects.get(), now=attempt.created_at) == 4000
    attempt.refresh_from_db()
    assert "above the monthly cap of 5000" in attempt.reason
    assert [m.subject for m in mail.outbox] == [f"Auto-reload: monthly cap reached ({org.name})"]


def test_three_declines_in_a_row_pause_it_and_the_owner_hears_of_the_first_and_the_pause(shop):
    _, org = shop
    _enable(shop, "pm_card_chargeDeclined")
    with time_machine.travel(START, tick=False) as clock:
        for n in range(3):
            attempt = _drop_below(org)
            assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.DECLINED
            clock.shift(timedelta(hours=1, minutes=1))
            if n == 0:
                assert [m.subject for m in mail.outbox] == [f"Auto-reload: your card was declined ({org.name})"]
                assert "generic_decline" in mail.outbox[0].body
    setting = AutoReload.objects.get()
    assert setting.paused and setting.consecutive_declines == 3
    assert [m.subject.split(" (")[0] for m in mail.outbox] == [
        "Auto-reload: your card was declined",
        "Auto-reload is paused",
    ]
    assert mail.outbox[1].to == ["owner@example.com"] and "3 automatic charges in a row" in mail.outbox[1].body
    # Paused: a further drop queues nothing.
    credits_add(org, 100)
    ledger.entry_post(organization=org, amount=-100, kind="usage", reference="after-pause")
    assert not AutoReloadAttempt.objects.filter(status=Status.QUEUED).exists()


@pytest.mark.parametrize(
    ("token", "code"),
    [("pm_card_chargeDeclinedLostCard", "lost_card"), ("pm_card_chargeDeclinedStolenCard", "stolen_card")],
)
def test_a_lost_or_stolen_card_pauses_it_at_once(shop, token, code):
    _, org = shop
    _enable(shop, token)
    attempt = _drop_below(org)
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.DECLINED
    setting = AutoReload.objects.get()
    assert setting.paused and code.replace("_", " ") in setting.paused_reason
    attempt.refresh_from_db()
    assert attempt.decline_code == code
    assert "Auto-reload is paused" in [m.subject.split(" (")[0] for m in mail.outbox]


def test_a_charge_the_bank_wants_confirmed_emails_the_link(shop):
    _, org = shop
    _enable(shop, "pm_card_authenticationRequired")
    attempt = _drop_below(org)
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.AUTHENTICATION_REQUIRED
    attempt.refresh_from_db()
    assert attempt.authentication_url.startswith("http")
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"] and attempt.authentication_url in message.body
    assert _balance(org) == 40


def test_detaching_the_method_it_charges_turns_it_off_and_tells_the_owner(shop, django_capture_on_commit_callbacks):
    from billing import payment_methods

    agency, org = shop
    setting = _enable(shop)
    with django_capture_on_commit_callbacks(execute=True):
        payment_methods.method_detach(agency=agency, organization=org, payment_method_id=setting.payment_method_id)
    setting.refresh_from_db()
    assert not setting.enabled and setting.payment_method_id == ""
    assert [m.subject.split(" (")[0] for m in mail.outbox] == ["Auto-reload is off: its payment method was removed"]


def test_a_method_removed_at_stripe_fails_the_reload_and_the_owner_hears_of_it(shop):
    agency, org = shop
    setting = _enable(shop)
    agency.stripe.client.v1.payment_methods.detach(setting.payment_method_id)  # outside the portal
    attempt = _drop_below(org)
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.FAILED
    attempt.refresh_from_db()
    assert attempt.decline_code and attempt.charged_cents == 0 and _balance(org) == 40
    setting.refresh_from_db()
    assert setting.consecutive_declines == 1 and setting.armed  # the next drop tries again, an hour on
    assert [m.subject.split(" (")[0] for m in mail.outbox] == ["Auto-reload: the automatic charge did not go through"]


def test_an_agency_reloads_its_platform_minutes_on_the_platform_account(make_agency, stripe_platform):
    from tests.conftest import minutes_add

    agency = make_agency(active=True)
    minutes_add(agency, 600)
    auto_reload.auto_reload_update(
        agency=agency,
        changes={
            "enabled": True,
            "threshold": 500,
            "amount_cents": 7000,
            "payment_method_id": saved_method(agency, None, stand_in=stripe_platform),
            "monthly_cap_cents": 50000,
        },
        by=agency.admin.email,
    )
    ledger.entry_post(agency=agency, amount=-200, kind="usage", reference="calls")
    attempt = AutoReloadAttempt.objects.get()
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SUCCEEDED
    agency.refresh_from_db()
    assert agency.minutes_balance == 1400
    entry = LedgerEntry.objects.get(purchase=AutoReloadAttempt.objects.get().purchase)
    assert entry.description == "Auto-reload: balance 400 fell below 500; reloading 1000 minutes"

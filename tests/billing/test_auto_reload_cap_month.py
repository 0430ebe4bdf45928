"""The monthly cap over a month: one cap email however many reloads it stops, no reload per debit
while capped, and the sweep restarting a reload on the 1st when the balance is still low."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from billing import auto_reload, ledger, reload_charge, reload_queue
from billing.models import AutoReload, AutoReloadAttempt, LedgerEntry
from billing.tasks import auto_reload_sweep
from tests.billing.topups import saved_method
from tests.conftest import credits_add

pytestmark = pytest.mark.django_db
Status = AutoReloadAttempt.Status
CAPPED = "2026-11-20 10:00:00+00:00"
CAP_SUBJECT = "Auto-reload: monthly cap reached"
_refs = iter(range(1, 10_000))


@pytest.fixture
def shop(stripe_agency, make_client_user):
    """A client of a stand-in agency (40 cents a credit), auto-reloading 2000 (50 credits) below 50, cap 5000."""
    agency = stripe_agency()
    org = make_client_user(agency, email="owner@example.com").organization
    credits_add(org, 100)
    auto_reload.auto_reload_update(
        organization=org,
        changes={
            "enabled": True,
            "threshold": 50,
            "amount_cents": 2000,
            "payment_method_id": saved_method(agency, org, "pm_card_visa"),
            "monthly_cap_cents": 5000,
        },
        by="owner@example.com",
    )
    return agency, org


def _debit(org, amount: int) -> None:
    ledger.entry_post(organization=org, amount=-amount, kind="usage", reference=f"call-{next(_refs)}")


def _balance(org) -> int:
    org.refresh_from_db()
    return org.credits_balance


def _drop_to_40(org) -> AutoReloadAttempt:
    _debit(org, _balance(org) - 40)
    return AutoReloadAttempt.objects.get(status=Status.QUEUED)


def _cap_it(org, clock) -> None:
    """Two reloads (4000) this month, then a third stopped by the cap of 5000; the balance is left at 40."""
    for _ in range(2):
        assert reload_charge.attempt_process(attempt_id=_drop_to_40(org).pk) == Status.SUCCEEDED
        clock.shift(timedelta(hours=2))
    assert reload_charge.attempt_process(attempt_id=_drop_to_40(org).pk) == Status.SKIPPED_CAP
    assert _balance(org) == 40


def _cap_emails() -> list[str]:
    return [str(m.subject) for m in mail.outbox if str(m.subject).startswith(CAP_SUBJECT)]


def test_many_debits_in_a_capped_month_send_one_cap_email_and_queue_no_reload_each(shop):
    _, org = shop
    with time_machine.travel(CAPPED, tick=False) as clock:
        _cap_it(org, clock)
        for _ in range(20):  # usage goes on below the threshold: no reload per debit
            _debit(org, 1)
        assert AutoReloadAttempt.objects.count() == 3
        assert not AutoReloadAttempt.objects.filter(status=Status.QUEUED).exists()
        # Topped up by hand and crossing again: that crossing is tried and recorded, but not emailed about again.
        for _ in range(3):
            clock.shift(timedelta(hours=1))
            credits_add(org, 100)
            attempt = _drop_to_40(org)
            assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SKIPPED_CAP
    assert AutoReloadAttempt.objects.filter(status=Status.SKIPPED_CAP).count() == 4
    assert AutoReloadAttempt.objects.count() == 6
    assert _cap_emails() == [f"{CAP_SUBJECT} ({org.name})"]
    assert "on the 1st of next month" in mail.outbox[0].body


def test_the_first_cap_skip_of_the_next_month_is_emailed_again(shop):
    _, org = shop
    with time_machine.travel(CAPPED, tick=False) as clock:
        _cap_it(org, clock)
        auto_reload.auto_reload_update(organization=org, changes={"monthly_cap_cents": 2000}, by="owner@example.com")
        clock.move_to("2026-12-03 09:00:00+00:00")
        for _ in range(2):
            credits_add(org, 100)
            attempt = _drop_to_40(org)
            status = reload_charge.attempt_process(attempt_id=attempt.pk)
            clock.shift(timedelta(hours=2))
        assert status == Status.SKIPPED_CAP  # the first in December was charged (2000), the second is over
    assert _cap_emails() == [f"{CAP_SUBJECT} ({org.name})"] * 2


def test_at_the_turn_of_the_month_the_sweep_reloads_a_balance_still_below_the_threshold_once(shop):
    _, org = shop
    with time_machine.travel(CAPPED, tick=False) as clock:
        _cap_it(org, clock)
        clock.move_to("2026-11-30 23:59:00+00:00")
        assert auto_reload_sweep.call()["restarted"] == 0  # still November: the cap still holds
        _debit(org, 2)  # and a debit does not restart it either
        assert not AutoReloadAttempt.objects.filter(status=Status.QUEUED).exists()

        clock.move_to("2026-12-01 00:05:00+00:00")
        assert auto_reload_sweep.call()["restarted"] == 1
        assert auto_reload_sweep.call()["restarted"] == 0  # one open attempt: the next sweep adds none
        attempt = AutoReloadAttempt.objects.get(status=Status.QUEUED)
        assert (attempt.balance, attempt.reference) == (38, "month-start-2026-12")
        assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SUCCEEDED
        assert _balance(org) == 88
        # It succeeded: later sweeps and debits still below the threshold add nothing.
        clock.shift(timedelta(hours=3))
        assert auto_reload_sweep.call()["restarted"] == 0
    attempt.refresh_from_db()
    assert attempt.charged_cents == 2000
    assert LedgerEntry.objects.filter(purchase=attempt.purchase).get().amount == 50
    assert AutoReloadAttempt.objects.filter(status=Status.SUCCEEDED).count() == 3
    assert _cap_emails() == [f"{CAP_SUBJECT} ({org.name})"]


def test_a_balance_back_above_the_threshold_at_the_turn_of_the_month_queues_nothing(shop):
    _, org = shop
    with time_machine.travel(CAPPED, tick=False) as clock:
        _cap_it(org, clock)
        credits_add(org, 100)  # topped up by hand: 140
        clock.move_to("2026-12-01 00:05:00+00:00")
        assert auto_reload_sweep.call()["restarted"] == 0
    assert not AutoReloadAttempt.objects.filter(status=Status.QUEUED).exists()
    assert _balance(org) == 140


@pytest.mark.parametrize("change", [{"enabled": False}, "paused"])
def test_an_auto_reload_turned_off_or_paused_is_not_restarted_at_the_turn_of_the_month(shop, change):
    _, org = shop
    with time_machine.travel(CAPPED, tick=False) as clock:
        _cap_it(org, clock)
        if change == "paused":
            AutoReload.objects.filter(organization=org).update(paused_at=timezone.now(), paused_reason="test")
        else:
            auto_reload.auto_reload_update(organization=org, changes=change, by="owner@example.com")
        clock.move_to("2026-12-01 00:05:00+00:00")
        assert reload_queue.month_rollover_queue() == 0
    assert not AutoReloadAttempt.objects.filter(status=Status.QUEUED).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sweeps_and_debits_racing_at_the_turn_of_the_month_queue_one_reload(shop):
    _, org = shop
    with time_machine.travel(CAPPED, tick=False) as clock:
        _cap_it(org, clock)
        clock.move_to("2026-12-01 00:05:00+00:00")
        barrier = threading.Barrier(10)
        errors = []

        def race(n):
            try:
                barrier.wait()
                if n % 2:
                    reload_queue.month_rollover_queue()
                else:
                    _debit(org, 1)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=race, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert _balance(org) == 35
    assert AutoReloadAttempt.objects.filter(status=Status.QUEUED).count() == 1

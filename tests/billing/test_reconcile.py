"""Reconciliation: events whose webhook was lost are processed by the next run, exactly once."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from agencies.models import User
from billing import accounts, ledger, reconcile
from billing.models import LedgerEntry, Purchase, StripeEvent, StripeReconciliation
from billing.tasks import stripe_reconcile_sweep
from tests.billing.flows import bought_and_paid, checkout_start, deliver, deliver_last, in_threads


def _drop_next(agency, count: int) -> None:
    """The stand-in loses the next `count` deliveries to the agency's webhook endpoint."""
    (endpoint,) = agency.stripe.client.v1.webhook_endpoints.list().data
    agency.stripe.call(f"/_standin/webhook_endpoints/{endpoint.id}/drop", {"count": str(count)})


def _balance(user) -> int:
    user.organization.refresh_from_db()
    return user.organization.credits_balance


def _record(agency) -> StripeReconciliation:
    return StripeReconciliation.objects.get(agency=agency)


def test_a_dropped_delivery_is_credited_once_by_the_next_run_and_its_redelivery_changes_nothing(
    client, stripe_agency, make_client_user, caplog
):
    agency = stripe_agency()
    user = make_client_user(agency)
    _drop_next(agency, 2)  # checkout.session.completed and payment_intent.succeeded
    purchase = bought_and_paid(client, agency, user)
    (dropped,) = agency.stripe.deliveries("checkout.session.completed")
    assert dropped["dropped"] and dropped["status"] is None
    assert _balance(user) == 0

    out = StringIO()
    with caplog.at_level(logging.WARNING, logger="billing.reconcile"):
        call_command("stripe_reconcile", stdout=out)
    assert f"agency {agency.pk}: 1 event(s) recovered, 0 session(s) settled" in out.getvalue()
    assert f"Stripe event {dropped['event']} (checkout.session.completed) for agency {agency.pk} recovered by " in (
        caplog.text
    )
    purchase.refresh_from_db()
    assert _balance(user) == 100 and purchase.status == Purchase.Status.PAID
    assert StripeEvent.objects.get(event_id=dropped["event"]).outcome == f"purchase {purchase.pk} paid"
    assert purchase.invoice is not None  # credited through the same path: invoiced with it

    # Stripe retries the lost delivery later: it is a duplicate, and so is the next run.
    assert deliver(client, agency, dropped).json()["outcome"] == "duplicate: already processed"
    reconcile.stripe_reconcile()
    assert _balance(user) == 100 and LedgerEntry.objects.filter(purchase=purchase).count() == 1
    record = _record(agency)
    assert (record.events_recovered_last, record.events_recovered_total, record.problem) == (0, 1, "")
    assert record.reconciled_at is not None
    assert ledger.purchases_check() == []


def test_a_dropped_refund_is_recovered(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    _drop_next(agency, 1)
    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=1000)  # €10 of €40
    assert agency.stripe.last_delivery("charge.refunded")["dropped"]

    (outcome,) = reconcile.stripe_reconcile()
    assert outcome.events_recovered == 1  # the refund; the completed session was delivered
    purchase.refresh_from_db()
    assert _balance(user) == 75
    assert (purchase.status, purchase.refunded_cents, purchase.credits_refunded) == ("partially_refunded", 1000, 25)
    assert purchase.invoice.credit_notes.count() == 1


def test_a_session_left_open_past_its_expiry_is_settled(client, stripe_agency, make_client_user, clock):
    agency = stripe_agency()
    _, purchase = checkout_start(client, agency, make_client_user(agency))
    clock.shift(timedelta(hours=25))  # Stripe expires the unpaid session after 24 hours; its webhook is lost
    reconcile.stripe_reconcile()
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.EXPIRED and purchase.fulfilled_at is None


def test_a_delayed_payment_whose_events_are_older_than_the_window_is_settled_from_its_session(
    client, stripe_agency, make_client_user, clock
):
    agency = stripe_agency()
    user = make_client_user(agency)
    paid = bought_and_paid(client, agency, user, delayed=True)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    _, left = checkout_start(client, agency, user)
    agency.stripe.call(f"/v1/checkout/sessions/{left.stripe_session_id}/expire")
    agency.stripe.settle(paid.stripe_session_id, succeeded=True)  # its webhook is lost
    paid.refresh_from_db()
    assert paid.status == Purchase.Status.PROCESSING
    clock.shift(timedelta(days=4))  # past the 3 days of events a run reads

    (outcome,) = reconcile.stripe_reconcile()
    assert (outcome.events_recovered, outcome.sessions_settled) == (0, 2)
    paid.refresh_from_db()
    left.refresh_from_db()
    assert paid.status == Purchase.Status.PAID and _balance(user) == 100
    assert left.status == Purchase.Status.EXPIRED
    assert _record(agency).sessions_settled_last == 2


def test_a_failed_delayed_payment_is_settled_as_failed(client, stripe_agency, make_client_user, clock):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user, delayed=True)
    deliver_last(client, agency, "checkout.session.completed")
    agency.stripe.settle(purchase.stripe_session_id, succeeded=False)
    clock.shift(timedelta(days=4))
    reconcile.stripe_reconcile()
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED and _balance(user) == 0


def test_one_account_failing_does_not_stop_the_others(client, stripe_agency, make_client_user):
    broken, working = stripe_agency(), stripe_agency()
    broken.stripe_secret_key = "sk_test_" + "x" * 24  # revoked in Stripe's dashboard
    broken.save(update_fields=["stripe_secret_key"])
    user = make_client_user(working)
    _drop_next(working, 2)
    bought_and_paid(client, working, user)

    outcomes = {o.account.agency_id: o for o in reconcile.stripe_reconcile()}
    assert outcomes[broken.pk].problem == "Stripe refused the account's API key."
    assert outcomes[working.pk].events_recovered == 1 and _balance(user) == 100
    failed = _record(broken)
    assert failed.reconciled_at is None and failed.problem == "Stripe refused the account's API key."
    assert _record(working).problem == ""


def test_an_agency_without_stripe_is_not_reconciled(make_agency):
    make_agency()
    assert reconcile.stripe_reconcile() == []
    assert not StripeReconciliation.objects.exists()


def test_the_platform_account_is_reconciled_too(client, settings, stripe_account, make_agency):
    platform = stripe_account()
    settings.PLATFORM_STRIPE_SECRET_KEY = platform.secret_key
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = "whsec_platform_test"
    settings.PLATFORM_MINUTE_PRICE_CENTS, settings.PLATFORM_CURRENCY = 7, "EUR"
    settings.PLATFORM_MINUTES_MIN_PURCHASE = 1000
    agency = make_agency(active=True)
    client.force_login(agency.admin)
    response = client.post("/console/billing/minutes/", {"minutes": "2000"}, HTTP_HOST="localhost")
    assert response.status_code == 303, response.content
    purchase = Purchase.objects.get(agency=agency, organization=None)
    platform.pay(purchase.stripe_session_id)  # the platform has no webhook endpoint: nothing delivered

    outcome = reconcile.stripe_reconcile()[0]  # the platform first (the agency's demo keys are not on Stripe)
    assert outcome.account == accounts.platform_account() and outcome.events_recovered == 1
    agency.refresh_from_db()
    assert agency.minutes_balance == 2000
    assert StripeReconciliation.objects.get(agency=None).events_recovered_total == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reconciliation_and_webhook_delivery_racing_credit_once(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    account = accounts.agency_account(agency)
    for _ in range(5):  # several rounds: the race goes either way
        purchase = bought_and_paid(Client(), agency, user)
        delivery = agency.stripe.last_delivery("checkout.session.completed")
        results = in_threads(
            2,
            lambda i, delivery=delivery: (
                deliver(Client(), agency, delivery).status_code
                if i == 0
                else reconcile.account_reconcile(account=account).problem
            ),
        )
        assert results == [200, ""]
        assert LedgerEntry.objects.filter(purchase=purchase).count() == 1
        assert StripeEvent.objects.filter(event_id=delivery["event"]).count() == 1
    assert _balance(user) == 500
    assert _record(agency).events_recovered_total <= 5


def _waiting_runs():
    return DBTaskResult.objects.filter(task_path=stripe_reconcile_sweep.module_path, status="READY")


def test_the_periodic_run_reconciles_and_queues_the_next_one_once(client, settings, stripe_agency, make_client_user):
    settings.STRIPE_RECONCILE_SECONDS = 900
    agency = stripe_agency()
    user = make_client_user(agency)
    _drop_next(agency, 2)
    bought_and_paid(client, agency, user)

    assert stripe_reconcile_sweep.call() == {
        "accounts": 1,
        "events_recovered": 1,
        "sessions_settled": 0,
        "accounts_failed": 0,
    }
    assert _balance(user) == 100
    [next_run] = _waiting_runs()
    assert timedelta(seconds=890) < next_run.run_after - timezone.now() <= timedelta(seconds=900)
    stripe_reconcile_sweep.call()  # a second chain finds the first one waiting
    assert _waiting_runs().count() == 1


def test_stripe_reconcile_schedule_starts_the_chain_once(db, capsys):
    call_command("stripe_reconcile_schedule")
    call_command("stripe_reconcile_schedule")
    assert _waiting_runs().count() == 1
    assert "Stripe reconciliation already queued." in capsys.readouterr().out


def test_the_operator_sees_the_platforms_reconciliation_in_admin(db, settings, stripe_account):
    settings.PLATFORM_STRIPE_SECRET_KEY = stripe_account().secret_key
    reconcile.stripe_reconcile()
    operator = User.objects.create_superuser("operator@example.com", "x")
    admin = Client(HTTP_HOST="localhost")
    admin.force_login(operator)
    page = admin.get("/admin/billing/stripereconciliation/")
    assert page.status_code == 200 and "The platform" in page.text


def test_events_about_other_payments_on_the_account_are_not_counted_as_recovered(stripe_agency):
    agency = stripe_agency()
    product = agency.stripe.client.v1.products.create({"name": "Something else the agency sells"})
    item = {"price_data": {"currency": "eur", "unit_amount": 900, "product": product.id}, "quantity": 1}
    session = agency.stripe.client.v1.checkout.sessions.create(
        {"mode": "payment", "success_url": "https://example.com/ok", "line_items": [item]}
    )
    agency.stripe.pay(session.id)

    (outcome,) = reconcile.stripe_reconcile()
    assert outcome.events_recovered == 0 and outcome.problem == ""
    assert (
        StripeEvent.objects.get(agency=agency, type="checkout.session.completed").outcome
        == "ignored: not a session this portal created"
    )


def test_a_connected_accounts_lost_event_is_recovered_through_the_platform_key(
    client, connected_agency, make_client_user
):
    agency = connected_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    # The platform's Connect endpoint is down (a closed port): the delivery failed.
    (lost,) = [
        d
        for d in agency.platform.deliveries("checkout.session.completed")
        if f'"account": "{agency.stripe_account_id}"' in d["payload"]
    ]
    assert lost["status"] is None and _balance(user) == 0

    outcomes = reconcile.stripe_reconcile()
    mine = [o for o in outcomes if o.account.agency_id == agency.pk]
    assert [(o.account.connected_account_id, o.events_recovered, o.problem) for o in mine] == [
        (agency.stripe_account_id, 1, "")
    ]
    purchase.refresh_from_db()
    assert _balance(user) == 100 and purchase.status == Purchase.Status.PAID
    assert StripeEvent.objects.get(event_id=lost["event"]).agency_id == agency.pk

    # Stripe's own retry reaches the Connect endpoint later: a duplicate.
    retried = client.post(
        "/api/webhooks/stripe/connect",
        data=lost["payload"],
        content_type="application/json",
        HTTP_HOST="localhost",
        HTTP_STRIPE_SIGNATURE=lost["signature"],
    )
    assert retried.json()["outcome"] == "duplicate: already processed"
    assert _balance(user) == 100 and ledger.purchases_check() == []

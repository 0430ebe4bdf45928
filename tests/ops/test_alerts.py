"""Low-balance alerts: one per crossing, none while below, armed again by a top-up; one branded
email and one signed webhook per crossing, delivered by the task functions over real HTTP.

The ledger records each crossing (billing.BalanceCrossing) with the debit; the sweep takes it
(ops.alerts.crossings_deliver, as ops.tasks runs it) and makes the alert and its deliveries."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from billing import ledger
from billing.models import BalanceCrossing
from ops import alerts
from ops.deliveries import delivery_attempt
from ops.models import AlertDelivery, BalanceAlert
from ops.tasks import alert_deliver
from tests.conftest import credits_add, host, minutes_add
from tests.ops.conftest import call
from usage import keys
from usage.ingest import usage_ingest


def spend(organization, minutes, **fields):
    """A call charged through the ingest, then the sweep's step that takes new crossings."""
    [outcome] = usage_ingest(agency_id=organization.agency_id, records=[call(organization, minutes=minutes, **fields)])
    assert outcome.status == "applied"
    alerts.crossings_deliver()
    organization.refresh_from_db()
    return outcome


def crossings(organization):
    """The organization's alerts, once the sweep has taken the crossings recorded so far."""
    alerts.crossings_deliver()
    return list(BalanceAlert.objects.filter(organization=organization).order_by("pk"))


def make_due(delivery):
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_one_alert_per_crossing_none_while_below_and_a_top_up_arms_it_again(org):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")  # balance 100

    spend(org, 30)  # 70: still above
    assert crossings(org) == []
    spend(org, 30)  # 40: crossed
    [first] = crossings(org)
    assert (first.balance_before, first.balance_after, first.threshold) == (70, 40, 50)
    spend(org, 10)  # 30: still below, nothing new
    credits_add(org, 5)  # 35: a top-up that stays below does not arm it
    spend(org, 1)
    assert len(crossings(org)) == 1

    credits_add(org, 100)  # 134: above again
    spend(org, 90)  # 44: crossed again
    assert [(a.balance_before, a.balance_after) for a in crossings(org)] == [(70, 40), (134, 44)]


def test_landing_exactly_on_the_threshold_is_not_below_it(org):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")
    spend(org, 50)  # 50
    assert crossings(org) == []
    spend(org, 1)  # 49
    assert len(crossings(org)) == 1


def test_a_batch_crossing_once_names_the_call_that_crossed(org):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")
    records = [
        call(org, minutes=20, id="b-1"),
        call(org, minutes=20, id="b-2"),
        call(org, minutes=20, id="b-3"),
        call(org, minutes=20, id="b-4"),
    ]
    usage_ingest(agency_id=org.agency_id, records=records)  # 100 -> 80 -> 60 -> 40 -> 20
    [alert] = crossings(org)
    assert (alert.reference, alert.balance_before, alert.balance_after) == ("usage:b-3", 60, 40)


def test_the_agencys_minutes_have_their_own_threshold(agency, org):
    alerts.alert_settings_save(agency=agency, threshold=9_990, webhook_url="")  # agency holds 10,000
    spend(org, 5)
    assert not BalanceAlert.objects.filter(agency=agency).exists()
    spend(org, 6)
    [alert] = BalanceAlert.objects.filter(agency=agency)
    assert (alert.balance_after, alert.unit) == (9_989, "minutes")
    assert crossings(org) == []  # the client set no threshold


def test_a_manual_deduction_or_refund_crossing_alerts_too(org):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")
    ledger.credits_deduct(organization=org, amount=60, description="Correction", actor=None, reference="fix-1")
    [alert] = crossings(org)
    assert (alert.reference, alert.balance_after) == ("fix-1", 40)


def test_a_repeated_record_changes_nothing_and_alerts_nothing(org):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")
    record = call(org, minutes=60)
    usage_ingest(agency_id=org.agency_id, records=[record])
    assert usage_ingest(agency_id=org.agency_id, records=[record])[0].status == "duplicate"
    assert len(crossings(org)) == 1


def test_the_usage_api_path_records_the_alert(org, agency):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")
    key = keys.api_key_create(name="sync", agency=agency).secret
    from django.test import Client

    response = Client().post(
        "/api/v1/usage",
        json.dumps(call(org, minutes=70)),
        content_type="application/json",
        HTTP_HOST="localhost",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 201
    assert len(crossings(org)) == 1


def test_the_email_goes_once_to_each_member_in_the_agencys_brand(org, agency, make_client_user):
    colleague = make_client_user(agency)
    colleague.organization = org
    colleague.save()
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")
    spend(org, 60)
    [delivery] = AlertDelivery.objects.filter(channel="email")

    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    assert delivery_attempt(delivery_id=delivery.pk) is None  # delivered: nothing more to do

    assert sorted(m.to[0] for m in mail.outbox) == sorted([org.members.order_by("pk")[0].email, colleague.email])
    message = mail.outbox[0]
    assert message.from_email.startswith(agency.company_name)
    assert message.subject == "Low balance: 40 credits left for Client One"
    assert f"http://{host(agency)}/billing/buy/" in message.body
    html = message.alternatives[0][0]
    assert agency.primary_color in html and "40 credits left" in html
    delivery.refresh_from_db()
    assert (delivery.status, delivery.target, delivery.attempts) == ("delivered", "2 recipients", 1)


def test_the_webhook_is_signed_retried_with_backoff_after_failures_and_then_delivered(org, receiver):
    secret = alerts.alert_settings_save(organization=org, threshold=50, webhook_url=receiver.url + "/hooks")
    spend(org, 60)
    [delivery] = AlertDelivery.objects.filter(channel="webhook")
    receiver.statuses = [500, 503]

    assert delivery_attempt(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    first_wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert delivery_attempt(delivery_id=delivery.pk) is None  # not due yet: backing off
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    second_wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=29) < first_wait <= timedelta(seconds=31)
    assert timedelta(seconds=59) < second_wait <= timedelta(seconds=61)
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"

    assert len(receiver.requests) == 3
    bodies = {r["body"] for r in receiver.requests}
    assert len(bodies) == 1  # the same event every time
    assert all(receiver.verified(r, secret) for r in receiver.requests)
    assert not receiver.verified(receiver.requests[0], "whsec_someone-else")
    event = json.loads(receiver.requests[0]["body"])
    assert event["type"] == "billing.balance_low" and event["id"] == receiver.requests[0]["headers"]["X-Webhook-Id"]
    assert event["data"] == {
        "account_type": "organization",
        "account_id": org.pk,
        "name": "Client One",
        "balance": 40,
        "threshold": 50,
        "unit": "credits",
        "caused_by": event["data"]["caused_by"],
    }
    assert receiver.requests[0]["headers"]["X-Webhook-Event"] == "billing.balance_low"


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_try(org, receiver, settings):
    settings.ALERT_DELIVERY_ATTEMPTS = 2
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url=receiver.url)
    spend(org, 60)
    [delivery] = AlertDelivery.objects.filter(channel="webhook")
    receiver.statuses = [500, 500, 500]
    assert delivery_attempt(delivery_id=delivery.pk) == "pending"
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 2


def test_an_unreachable_receiver_is_retried_and_the_task_queues_its_retry(org, settings):
    from tests.stripe_fixtures import closed_port

    alerts.alert_settings_save(organization=org, threshold=50, webhook_url=f"http://127.0.0.1:{closed_port()}/x")
    spend(org, 60)
    [delivery] = AlertDelivery.objects.filter(channel="webhook")
    assert alert_deliver.call(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert "connection refused" in delivery.last_error
    from django_tasks_db.models import DBTaskResult

    [retry] = DBTaskResult.objects.filter(task_path=alert_deliver.module_path, status="READY")
    assert retry.args_kwargs["args"] == [delivery.pk] and retry.run_after == delivery.next_attempt_at


def test_a_rolled_secret_signs_the_retries(org, receiver):
    old = alerts.alert_settings_save(organization=org, threshold=50, webhook_url=receiver.url)
    spend(org, 60)
    [delivery] = AlertDelivery.objects.filter(channel="webhook")
    receiver.statuses = [500]
    delivery_attempt(delivery_id=delivery.pk)
    new = alerts.signing_secret_roll(organization=org)
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    assert receiver.verified(receiver.requests[0], old) and receiver.verified(receiver.requests[1], new)
    assert old != new


def test_the_debit_records_the_crossing_and_the_sweep_queues_its_deliveries_on_commit(
    org, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from ops.tasks import due_work_enqueue

    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="https://hooks.example.com/x")
    with django_capture_on_commit_callbacks(execute=False) as at_debit:
        usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=60, id="crossing-1")])
    [crossing] = BalanceCrossing.objects.all()
    assert (
        crossing.organization_id,
        crossing.reference,
        crossing.balance_before,
        crossing.balance_after,
        crossing.threshold,
        crossing.taken_at,
    ) == (org.pk, "usage:crossing-1", 100, 40, 50, None)
    assert at_debit == [] and not AlertDelivery.objects.exists()  # billing tells nobody itself

    with django_capture_on_commit_callbacks(execute=False) as at_take:
        due_work_enqueue()  # the sweep
        assert not DBTaskResult.objects.filter(task_path=alert_deliver.module_path).exists()
    for callback in at_take:
        callback()
    queued = sorted(r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(task_path=alert_deliver.module_path))
    assert queued == sorted(AlertDelivery.objects.values_list("pk", flat=True))
    assert len(queued) == 2
    crossing.refresh_from_db()
    assert crossing.taken_at is not None
    [alert] = BalanceAlert.objects.all()
    assert (alert.reference, alert.created_at) == ("usage:crossing-1", crossing.created_at)

    due_work_enqueue()  # taken once: a later sweep makes nothing new
    assert BalanceAlert.objects.count() == 1 and AlertDelivery.objects.count() == 2


def test_a_sweep_right_after_the_take_commits_queues_no_second_try(org, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from ops.tasks import due_work_enqueue

    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="https://hooks.example.com/x")
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=60, id="crossing-2")])
    with django_capture_on_commit_callbacks(execute=False) as at_take:
        due_work_enqueue()  # one worker's sweep takes the crossing; its queueing waits for the commit
    due_work_enqueue()  # another worker's sweep sees the new deliveries due before that queueing runs
    for callback in at_take:
        callback()

    queued = sorted(r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(task_path=alert_deliver.module_path))
    assert queued == sorted(AlertDelivery.objects.values_list("pk", flat=True))
    assert len(queued) == 2  # each delivery once


def test_the_threshold_in_force_at_the_debit_is_the_one_alerted(org):
    alerts.alert_settings_save(organization=org, threshold=50, webhook_url="")
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=60)])  # 40: crossed 50
    alerts.alert_settings_save(organization=org, threshold=10, webhook_url="")  # changed before the sweep
    [alert] = crossings(org)
    assert (alert.threshold, alert.balance_after) == (50, 40)


def test_the_agencys_email_goes_to_its_console_admins_in_the_platform_brand(agency, org, settings):
    settings.PLATFORM_NAME = "Acme Platform"
    alerts.alert_settings_save(agency=agency, threshold=9_990, webhook_url="")
    spend(org, 20)
    [delivery] = AlertDelivery.objects.filter(alert__agency=agency)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    [message] = mail.outbox
    assert message.to == [agency.admin.email] and message.from_email.startswith("Acme Platform")
    assert "/console/billing/minutes/" in message.body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_cross_exactly_once(agency, make_client_user):
    from tests.billing.flows import in_threads

    organization = make_client_user(agency).organization
    credits_add(organization, 100)
    alerts.alert_settings_save(organization=organization, threshold=50, webhook_url="")
    records = [call(organization, minutes=10) for _ in range(8)]
    results = in_threads(8, lambda i: usage_ingest(agency_id=agency.pk, records=[records[i]])[0].status)
    assert results == ["applied"] * 8
    [crossing] = BalanceCrossing.objects.filter(organization=organization)
    assert crossing.balance_before >= 50 > crossing.balance_after
    minutes_add(agency, 1)  # the fixture's agency keeps working after the threads


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_take_each_crossing_exactly_once(agency, make_client_user):
    from tests.billing.flows import in_threads

    organizations = [make_client_user(agency).organization for _ in range(6)]
    for organization in organizations:
        credits_add(organization, 100)
        alerts.alert_settings_save(organization=organization, threshold=50, webhook_url="https://hooks.example.com/x")
        usage_ingest(agency_id=agency.pk, records=[call(organization, minutes=60)])
    assert BalanceCrossing.objects.filter(taken_at__isnull=True).count() == 6

    taken = in_threads(4, lambda i: len(alerts.crossings_deliver(limit=2)))
    taken += [len(alerts.crossings_deliver())]  # whatever the racing workers left
    assert sum(taken) == 6
    assert sorted(BalanceAlert.objects.values_list("organization", flat=True)) == sorted(o.pk for o in organizations)
    assert AlertDelivery.objects.count() == 12  # one email and one webhook each
    assert not BalanceCrossing.objects.filter(taken_at__isnull=True).exists()
    minutes_add(agency, 1)  # the fixture's agency keeps working after the threads


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_crossing_another_worker_holds_is_skipped_not_waited_for(agency, make_client_user):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, transaction

    first, second = (make_client_user(agency).organization for _ in range(2))
    for organization in (first, second):
        credits_add(organization, 100)
        alerts.alert_settings_save(organization=organization, threshold=50, webhook_url="")
        usage_ingest(agency_id=agency.pk, records=[call(organization, minutes=60)])
    held = BalanceCrossing.objects.get(organization=first)

    def other_worker():
        try:
            return [a.organization_id for a in alerts.crossings_deliver()]
        finally:
            connection.close()

    with transaction.atomic():
        BalanceCrossing.objects.select_for_update().get(pk=held.pk)  # a worker busy with it
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(other_worker).result(timeout=10) == [second.pk]
    assert [a.organization_id for a in alerts.crossings_deliver()] == [first.pk]  # once it is free again
    assert BalanceAlert.objects.count() == 2

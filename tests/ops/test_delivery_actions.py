"""On the deliveries list: "Send test event" (a signed webhook.test to the configured URL, listed as a test)
and "Retry now" on a failed or waiting delivery (queued at once, once; another tenant's is 404)."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from ops import alerts
from ops.deliveries import delivery_attempt
from ops.models import AlertDelivery
from ops.tasks import alert_deliver
from tests.conftest import host
from tests.ops.conftest import call
from usage.ingest import usage_ingest


@pytest.fixture
def portal(client_user, agency):
    client = Client(HTTP_HOST=host(agency))
    client.force_login(client_user)
    return client


@pytest.fixture
def console(agency):
    client = Client(HTTP_HOST="localhost")
    client.force_login(agency.admin)
    return client


def queued(delivery_id: int) -> int:
    """Waiting tries of one delivery in the task queue."""
    return sum(
        1
        for args in DBTaskResult.objects.filter(task_path=alert_deliver.module_path, status="READY").values_list(
            "args_kwargs", flat=True
        )
        if args["args"] == [delivery_id]
    )


def run_queued() -> None:
    """What the worker does with the tries waiting in the queue."""
    for result in DBTaskResult.objects.filter(task_path=alert_deliver.module_path, status="READY"):
        delivery_attempt(delivery_id=result.args_kwargs["args"][0])
        DBTaskResult.objects.filter(pk=result.pk).update(status="SUCCESSFUL")


def test_send_test_event_posts_a_signed_test_event_listed_as_a_test(console, agency, receiver):
    secret = alerts.alert_settings_save(agency=agency, threshold=None, webhook_url=receiver.url + "/hook")
    response = console.post("/console/ops/alerts/test/", follow=True)
    assert "Test event queued" in response.text
    [delivery] = AlertDelivery.objects.filter(kind="test")
    assert queued(delivery.pk) == 1
    run_queued()

    [request] = receiver.requests
    assert receiver.verified(request, secret)
    assert request["headers"]["X-Webhook-Event"] == "webhook.test"
    event = json.loads(request["body"])
    assert event["type"] == "webhook.test" and event["id"] == request["headers"]["X-Webhook-Id"]
    assert event["data"] == {
        "account_type": "agency",
        "account_id": agency.pk,
        "name": agency.company_name,
        "test": True,
    }
    page = console.get("/console/ops/alerts/").text
    assert 'data-testid="delivery-test"' in page and ">Delivered<" in page


def test_a_client_sends_a_test_event_from_its_portal(portal, org, receiver):
    portal.post("/settings/alerts/", {"threshold": "", "webhook_url": receiver.url})
    assert 'data-testid="send-test"' in portal.get("/settings/alerts/").text
    portal.post("/settings/alerts/test/")
    run_queued()
    [request] = receiver.requests
    assert json.loads(request["body"])["data"]["account_id"] == org.pk


def test_without_a_webhook_url_there_is_nothing_to_test(console, agency):
    assert 'data-testid="send-test"' not in console.get("/console/ops/alerts/").text
    response = console.post("/console/ops/alerts/test/", follow=True)
    assert "Save a webhook URL first" in response.text
    assert not AlertDelivery.objects.exists()


def test_retry_now_tries_a_failed_delivery_at_once_and_only_once(portal, org, receiver, settings):
    settings.ALERT_DELIVERY_ATTEMPTS = 1
    portal.post("/settings/alerts/", {"threshold": "50", "webhook_url": receiver.url})
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=60)])
    alerts.crossings_deliver()
    [delivery] = AlertDelivery.objects.filter(channel="webhook")
    receiver.statuses = [500]
    DBTaskResult.objects.all().delete()
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    assert 'data-testid="retry"' in portal.get("/settings/alerts/").text

    url = f"/settings/alerts/deliveries/{delivery.pk}/retry/"
    assert "Retry queued" in portal.post(url, follow=True).text
    assert "Retry queued" in portal.post(url, follow=True).text  # a second click: still one try queued
    assert queued(delivery.pk) == 1
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at <= timezone.now()
    run_queued()
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(receiver.requests) == 2
    assert "delivered already" in portal.post(url, follow=True).text
    assert queued(delivery.pk) == 0


def test_retry_now_leaves_a_try_under_way_alone(portal, org, receiver):
    portal.post("/settings/alerts/", {"threshold": "50", "webhook_url": receiver.url})
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=60)])
    alerts.crossings_deliver()
    [delivery] = AlertDelivery.objects.filter(channel="webhook")
    # As ops.deliveries claims a try: started now, held for the claim time.
    now = timezone.now()
    from ops.deliveries import claim_seconds

    AlertDelivery.objects.filter(pk=delivery.pk).update(
        last_attempt_at=now, next_attempt_at=now + timedelta(seconds=claim_seconds()), attempts=1
    )
    response = portal.post(f"/settings/alerts/deliveries/{delivery.pk}/retry/", follow=True)
    assert "being tried right now" in response.text


def test_another_tenants_delivery_is_404(console, portal, org, receiver, make_agency, make_client_user):
    portal.post("/settings/alerts/", {"threshold": "50", "webhook_url": receiver.url})
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=60)])
    alerts.crossings_deliver()
    [delivery] = AlertDelivery.objects.filter(channel="webhook")

    assert console.post(f"/console/ops/alerts/deliveries/{delivery.pk}/retry/").status_code == 404
    other = make_agency(active=True)
    stranger = Client(HTTP_HOST=host(other))
    stranger.force_login(make_client_user(other))
    assert stranger.post(f"/settings/alerts/deliveries/{delivery.pk}/retry/").status_code == 404
    assert portal.get(f"/settings/alerts/deliveries/{delivery.pk}/retry/").status_code == 405

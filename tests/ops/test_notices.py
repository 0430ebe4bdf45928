"""Agency notifications: an email to the agency's admins on a new client and on each paid purchase,
made by the ops sweep (never in the webhook's transaction), once per cause, switchable on the console."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from agencies.models import Agency
from billing.models import Purchase
from ops import notices
from ops.deliveries import delivery_attempt
from ops.models import AlertDelivery
from ops.tasks import due_work_enqueue
from tests.billing.flows import bought_and_paid, deliver, in_threads, success_page
from tests.ops.test_dashboards import sold

Kind = AlertDelivery.Kind


@pytest.fixture(autouse=True)
def _notifications_on(agency):
    """The new agency's defaults (tests/ops/conftest.py switches them off for the alert tests)."""
    Agency.objects.filter(pk=agency.pk).update(notify_client_signup=True, notify_purchase=True)
    agency.refresh_from_db()


def sweep_and_send() -> list:
    """What the worker does: the sweep makes the notices, then each due delivery is tried."""
    notices.notices_make()
    for delivery in AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING, alert__isnull=True):
        delivery_attempt(delivery_id=delivery.pk)
    return mail.outbox


def test_a_new_client_signup_emails_the_agency_admin_once(agency, make_client_user):
    mail.outbox.clear()
    org = make_client_user(agency, company_name="Bright Dental", email="owner@bright.example").organization
    assert AlertDelivery.objects.filter(kind=Kind.CLIENT_SIGNUP).count() == 0  # nothing in the sign-up itself

    [email] = sweep_and_send()
    assert email.to == [agency.admin.email]
    assert email.subject == "New client: Bright Dental"
    assert "owner@bright.example" in email.body and f"/console/ops/clients/{org.pk}/" in email.body

    notices.notices_make()
    due_work_enqueue()
    assert AlertDelivery.objects.filter(kind=Kind.CLIENT_SIGNUP).count() == 1
    assert len(sweep_and_send()) == 1


def flushed() -> None:
    """Tell what is pending so far (the fixtures' sign-ups), then start counting emails afresh."""
    sweep_and_send()
    mail.outbox.clear()


def test_each_paid_purchase_emails_the_agency_admin_once(agency, org):
    flushed()
    first = sold(org, credits=100, cents=4000)
    second = sold(org, credits=500, cents=15000)

    sent = sweep_and_send()
    assert sorted(e.subject for e in sent) == [
        "Client One bought 100 credits (€40.00)",
        "Client One bought 500 credits (€150.00)",
    ]
    assert {e.to[0] for e in sent} == {agency.admin.email}
    assert f"/console/billing/purchases/{first.pk}/" in "".join(e.body for e in sent)
    notices.notices_make()
    notices.notices_make()
    assert len(sweep_and_send()) == 2
    assert set(AlertDelivery.objects.filter(kind=Kind.PURCHASE_PAID).values_list("reference", flat=True)) == {
        f"purchase:{first.pk}",
        f"purchase:{second.pk}",
    }


def test_unpaid_purchases_and_old_causes_are_not_told(agency, org):
    org.__class__.objects.filter(pk=org.pk).update(created_at=timezone.now() - timedelta(days=3))
    Purchase.objects.filter(pk=sold(org, credits=10, cents=100).pk).update(
        fulfilled_at=timezone.now() - notices.WINDOW - timedelta(minutes=1)
    )
    Purchase.objects.create(
        reference="unpaid1",
        agency=agency,
        organization=org,
        package=agency.packages.first(),
        credits=100,
        amount_cents=4000,
        currency="EUR",
        livemode=False,
        stripe_session_id="cs_test_unpaid1",
    )
    assert notices.notices_make() == []
    assert not AlertDelivery.objects.exists()


def test_switched_off_notifications_are_not_made(agency, org, make_client_user):
    console = Client(HTTP_HOST="localhost")
    console.force_login(agency.admin)
    page = console.get("/console/ops/alerts/").text
    assert 'data-testid="notifications"' in page and 'name="notify_purchase"' in page and "checked" in page

    response = console.post("/console/ops/notifications/", {"notify_client_signup": "on"}, follow=True)
    assert "Notification settings saved." in response.text
    agency.refresh_from_db()
    assert agency.notify_client_signup and not agency.notify_purchase
    flushed()
    sold(org, credits=100, cents=4000)
    make_client_user(agency, company_name="Second")
    assert [e.subject for e in sweep_and_send()] == ["New client: Second"]

    console.post("/console/ops/notifications/", {})
    make_client_user(agency, company_name="Third")
    assert notices.notices_make() == []


def test_the_portal_alert_page_has_no_agency_notification_switches(agency, client_user):
    portal = Client(HTTP_HOST=f"{agency.slug}.localhost")
    portal.force_login(client_user)
    assert 'data-testid="notifications"' not in portal.get("/settings/alerts/").text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_purchase_paid_by_webhook_and_success_page_at_once_is_told_once(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    for _ in range(3):  # the race goes either way
        buyer = Client()
        purchase = bought_and_paid(buyer, agency, user)
        delivery = agency.stripe.last_delivery("checkout.session.completed")
        in_threads(
            4,
            lambda i, delivery=delivery, buyer=buyer, purchase=purchase: (
                deliver(Client(), agency, delivery)
                if i == 0
                else success_page(buyer, agency, purchase)
                if i == 1
                else notices.notices_make()  # sweeps running meanwhile
            ),
        )
        in_threads(3, lambda i: notices.notices_make())  # and sweeps racing afterwards
        assert AlertDelivery.objects.filter(kind=Kind.PURCHASE_PAID, reference=f"purchase:{purchase.pk}").count() == 1
    mail.outbox.clear()
    sent = [e for e in sweep_and_send() if "bought" in e.subject]
    assert len(sent) == 3 and all(e.to == [agency.admin.email] for e in sent)

"""POST /api/webhooks/stripe/<slug>: signatures, idempotency, outages, concurrency."""

import json
import time

import pytest
import stripe
from django.test import Client

from billing.models import LedgerEntry, Purchase, StripeEvent
from tests.billing.flows import bought_and_paid, deliver, deliver_last, in_threads, success_page, webhook_post
from tests.stripe_fixtures import closed_port


def _nothing_written(user):
    user.organization.refresh_from_db()
    return (
        user.organization.credits_balance == 0 and not LedgerEntry.objects.exists() and not StripeEvent.objects.exists()
    )


def _paid_event(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    return agency, user, purchase, agency.stripe.last_delivery("checkout.session.completed")


def test_valid_signature_credits_the_purchase(client, stripe_agency, make_client_user):
    agency, user, purchase, delivery = _paid_event(client, stripe_agency, make_client_user)
    response = deliver(client, agency, delivery)
    assert response.status_code == 200 and response.json()["received"] is True
    user.organization.refresh_from_db()
    purchase.refresh_from_db()
    assert user.organization.credits_balance == 100 and purchase.status == Purchase.Status.PAID
    assert StripeEvent.objects.get().event_id == json.loads(delivery["payload"])["id"]


def test_wrong_secret_is_rejected_and_writes_nothing(client, stripe_agency, make_client_user):
    agency, user, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    forged = stripe.WebhookSignature.generate_signature_header(delivery["payload"], "whsec_NotTheAgencySecret00")
    assert webhook_post(client, agency, delivery["payload"], forged).status_code == 400
    assert _nothing_written(user)


def test_another_agencys_secret_only_works_on_its_own_url(client, stripe_agency, make_client_user):
    agency, user, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    other = stripe_agency()
    # Signed correctly for `agency`, posted to the other agency's URL.
    assert webhook_post(client, other, delivery["payload"], delivery["signature"]).status_code == 400
    # Signed with the other agency's real secret, posted to `agency`'s URL.
    signed_for_other = stripe.WebhookSignature.generate_signature_header(
        delivery["payload"], other.stripe_webhook_secret
    )
    assert webhook_post(client, agency, delivery["payload"], signed_for_other).status_code == 400
    assert _nothing_written(user)


def test_expired_timestamp_is_rejected(client, stripe_agency, make_client_user):
    agency, _user, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    old = stripe.WebhookSignature.generate_signature_header(
        delivery["payload"], agency.stripe_webhook_secret, timestamp=int(time.time()) - 301
    )
    assert webhook_post(client, agency, delivery["payload"], old).status_code == 400
    recent = stripe.WebhookSignature.generate_signature_header(
        delivery["payload"], agency.stripe_webhook_secret, timestamp=int(time.time()) - 240
    )
    assert webhook_post(client, agency, delivery["payload"], recent).status_code == 200


def test_body_changed_by_one_byte_is_rejected(client, stripe_agency, make_client_user):
    agency, user, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    payload = delivery["payload"]
    at = payload.index('"amount_total": 4000') + len('"amount_total": 4')
    tampered = payload[:at] + "1" + payload[at + 1 :]  # 4000 -> 4100
    assert len(tampered) == len(payload)
    assert webhook_post(client, agency, tampered, delivery["signature"]).status_code == 400
    not_utf8 = payload.encode()[:-1] + b"\xff"
    response = client.post(
        f"/api/webhooks/stripe/{agency.slug}",
        data=not_utf8,
        content_type="application/json",
        HTTP_HOST="localhost",
        HTTP_STRIPE_SIGNATURE=delivery["signature"],
    )
    assert response.status_code == 400
    assert _nothing_written(user)


def test_missing_signature_header_is_rejected(client, stripe_agency, make_client_user):
    agency, user, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    assert webhook_post(client, agency, delivery["payload"], None).status_code == 400
    assert webhook_post(client, agency, delivery["payload"], "").status_code == 400
    assert webhook_post(client, agency, delivery["payload"], "t=nonsense").status_code == 400
    assert _nothing_written(user)


def test_signed_but_unparseable_body_is_rejected(client, stripe_agency):
    agency = stripe_agency()
    for body in ["not json", json.dumps({"id": "evt_1"}), json.dumps([1, 2])]:
        signature = stripe.WebhookSignature.generate_signature_header(body, agency.stripe_webhook_secret)
        assert webhook_post(client, agency, body, signature).status_code == 400
    assert not StripeEvent.objects.exists()


def test_unknown_slug_is_404_and_other_methods_are_refused(client, stripe_agency):
    agency = stripe_agency()
    assert webhook_post(client, agency, "{}", "t=1,v1=0", slug="no-such-portal").status_code == 404
    assert client.get(f"/api/webhooks/stripe/{agency.slug}", HTTP_HOST="localhost").status_code == 405
    # Only on the console host.
    response = client.post(
        f"/api/webhooks/stripe/{agency.slug}",
        data="{}",
        content_type="application/json",
        HTTP_HOST=f"{agency.slug}.localhost",
    )
    assert response.status_code == 404


def test_a_checkout_payments_own_payment_intent_event_answers_200_and_credits_nothing(
    client, stripe_agency, make_client_user
):
    agency, user, _, _ = _paid_event(client, stripe_agency, make_client_user)
    response = deliver_last(client, agency, "payment_intent.succeeded")  # handled for top-ups only
    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 0 and not LedgerEntry.objects.exists()


def test_the_same_event_ten_times_credits_once(client, stripe_agency, make_client_user):
    agency, user, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    outcomes = [deliver(client, agency, delivery) for _ in range(10)]
    assert [r.status_code for r in outcomes] == [200] * 10
    assert sum(r.json()["outcome"].startswith("duplicate") for r in outcomes) == 9
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100
    assert LedgerEntry.objects.count() == 1 and StripeEvent.objects.count() == 1


def test_stripe_unreachable_answers_503_writes_nothing_and_the_retry_credits(
    client, stripe_agency, make_client_user, settings, stripe_base
):
    agency, user, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    assert deliver(client, agency, delivery).status_code == 503
    assert _nothing_written(user)
    settings.STRIPE_API_BASE = stripe_base  # Stripe is back; it retries the delivery
    assert deliver(client, agency, delivery).status_code == 200
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100


def test_a_webhook_answers_well_within_a_second(client, stripe_agency, make_client_user):
    agency, _, _, delivery = _paid_event(client, stripe_agency, make_client_user)
    started = time.monotonic()
    assert deliver(client, agency, delivery).status_code == 200
    assert time.monotonic() - started < 1.0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_event_ten_times_in_parallel_credits_once(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(Client(), agency, user)
    delivery = agency.stripe.last_delivery("checkout.session.completed")

    responses = in_threads(10, lambda i: deliver(Client(), agency, delivery))
    assert [r.status_code for r in responses] == [200] * 10
    user.organization.refresh_from_db()
    purchase.refresh_from_db()
    assert user.organization.credits_balance == 100 and purchase.status == Purchase.Status.PAID
    assert LedgerEntry.objects.count() == 1 and StripeEvent.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_webhook_and_success_page_racing_credit_once(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    for _ in range(5):  # several rounds: the race goes either way
        buyer = Client()
        purchase = bought_and_paid(buyer, agency, user)
        delivery = agency.stripe.last_delivery("checkout.session.completed")
        responses = in_threads(
            2,
            lambda i, delivery=delivery, buyer=buyer, purchase=purchase: (
                deliver(Client(), agency, delivery) if i == 0 else success_page(buyer, agency, purchase)
            ),
        )
        assert [r.status_code for r in responses] == [200, 200]
        assert "+100 credits" in responses[1].text
        assert LedgerEntry.objects.filter(purchase=purchase).count() == 1
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 500

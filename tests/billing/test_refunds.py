"""Refunds and disputes take credits back, proportionally and never twice."""

import pytest
from django.test import Client

from agencies.models import Organization
from billing import ledger
from billing.models import LedgerEntry, Purchase
from tests.billing.flows import bought_and_paid, deliver, deliver_last, in_threads


def _credited(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    return agency, user.organization, purchase


def _balance(organization: Organization) -> int:
    organization.refresh_from_db()
    return organization.credits_balance


def test_partial_then_full_refund_removes_credits_in_proportion(client, stripe_agency, make_client_user):
    agency, organization, purchase = _credited(client, stripe_agency, make_client_user)

    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=1000)  # €10 of €40
    first = agency.stripe.last_delivery("charge.refunded")
    assert deliver(client, agency, first).status_code == 200
    purchase.refresh_from_db()
    assert _balance(organization) == 75
    assert (purchase.status, purchase.refunded_cents, purchase.credits_refunded) == ("partially_refunded", 1000, 25)

    agency.stripe.refund(purchase.stripe_payment_intent_id)  # the remaining €30
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    assert deliver(client, agency, first).status_code == 200  # a late redelivery of the first refund
    purchase.refresh_from_db()
    assert _balance(organization) == 0
    assert (purchase.status, purchase.refunded_cents, purchase.credits_refunded) == ("refunded", 4000, 100)
    refunds = LedgerEntry.objects.filter(purchase=purchase, kind="refund").order_by("pk")
    assert [(e.amount, e.balance_after) for e in refunds] == [(-25, 75), (-75, 0)]


def test_refund_events_delivered_out_of_order_remove_nothing_twice(client, stripe_agency, make_client_user):
    agency, organization, purchase = _credited(client, stripe_agency, make_client_user)
    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=1000)
    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=2000)
    first, second = agency.stripe.deliveries("charge.refunded")
    assert deliver(client, agency, second).status_code == 200
    assert deliver(client, agency, first).status_code == 200
    assert deliver(client, agency, second).status_code == 200
    assert _balance(organization) == 25  # €30 of €40 refunded: 75 credits removed


def test_a_refund_may_take_the_balance_below_zero(client, stripe_agency, make_client_user):
    agency, organization, purchase = _credited(client, stripe_agency, make_client_user)
    ledger.credits_deduct(organization=organization, amount=80, description="Calls", actor=None, reference="spent")
    agency.stripe.refund(purchase.stripe_payment_intent_id)
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    assert _balance(organization) == -80


def test_a_refund_reported_before_the_payment_applies_when_the_payment_lands(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    intent = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id).payment_intent
    agency.stripe.refund(intent, amount=2000)
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    purchase.refresh_from_db()
    assert purchase.refunded_cents == 2000 and _balance(user.organization) == 0
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    assert _balance(user.organization) == 50
    assert (purchase.status, purchase.credits_refunded) == ("partially_refunded", 50)


def test_refund_of_a_payment_that_is_not_ours_changes_nothing(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    foreign = agency.stripe.client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": agency.stripe_price_id, "quantity": 1}],
            "success_url": "https://elsewhere.example/thanks",
        }
    )
    agency.stripe.pay(foreign.id)
    agency.stripe.refund(agency.stripe.client.v1.checkout.sessions.retrieve(foreign.id).payment_intent)
    response = deliver_last(client, agency, "charge.refunded")
    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")
    assert _balance(user.organization) == 0 and not LedgerEntry.objects.exists()


def _disputed(client, stripe_agency, make_client_user):
    agency, organization, purchase = _credited(client, stripe_agency, make_client_user)
    charge = agency.stripe.client.v1.payment_intents.retrieve(purchase.stripe_payment_intent_id).latest_charge
    dispute = agency.stripe.dispute(charge)
    assert deliver_last(client, agency, "charge.dispute.created").status_code == 200
    purchase.refresh_from_db()
    assert _balance(organization) == 0
    assert (purchase.status, purchase.credits_disputed) == ("disputed", 100)
    return agency, organization, purchase, dispute


def test_dispute_holds_the_credits_and_winning_gives_them_back(client, stripe_agency, make_client_user):
    agency, organization, purchase, dispute = _disputed(client, stripe_agency, make_client_user)
    agency.stripe.close_dispute(dispute["id"], "won")
    assert deliver_last(client, agency, "charge.dispute.closed").status_code == 200
    assert deliver_last(client, agency, "charge.dispute.created").status_code == 200  # redelivered late
    purchase.refresh_from_db()
    assert _balance(organization) == 100
    assert (purchase.status, purchase.dispute_status, purchase.credits_disputed) == ("paid", "won", 0)
    kinds = list(LedgerEntry.objects.filter(purchase=purchase).order_by("pk").values_list("kind", "amount"))
    assert kinds == [("purchase", 100), ("dispute", -100), ("reversal", 100)]


def test_a_lost_dispute_keeps_the_credits_removed(client, stripe_agency, make_client_user):
    agency, organization, purchase, dispute = _disputed(client, stripe_agency, make_client_user)
    agency.stripe.close_dispute(dispute["id"], "lost")
    assert deliver_last(client, agency, "charge.dispute.closed").status_code == 200
    purchase.refresh_from_db()
    assert _balance(organization) == 0
    assert (purchase.status, purchase.dispute_status, purchase.credits_disputed) == ("dispute_lost", "lost", 100)


def test_a_dispute_closure_delivered_before_its_opening_ends_the_same(client, stripe_agency, make_client_user):
    agency, organization, purchase = _credited(client, stripe_agency, make_client_user)
    charge = agency.stripe.client.v1.payment_intents.retrieve(purchase.stripe_payment_intent_id).latest_charge
    dispute = agency.stripe.dispute(charge)
    agency.stripe.close_dispute(dispute["id"], "won")
    assert deliver_last(client, agency, "charge.dispute.closed").status_code == 200
    assert deliver_last(client, agency, "charge.dispute.created").status_code == 200
    purchase.refresh_from_db()
    assert _balance(organization) == 100 and purchase.status == Purchase.Status.PAID
    assert not LedgerEntry.objects.filter(purchase=purchase, kind="dispute").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_refund_events_processed_in_parallel_add_up(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(Client(), agency, user)
    deliver_last(Client(), agency, "checkout.session.completed")
    purchase.refresh_from_db()
    for cents in (1000, 1000, 2000):
        agency.stripe.refund(purchase.stripe_payment_intent_id, amount=cents)
    deliveries = agency.stripe.deliveries("charge.refunded")
    responses = in_threads(len(deliveries) * 2, lambda i: deliver(Client(), agency, deliveries[i % len(deliveries)]))
    assert {r.status_code for r in responses} == {200}
    purchase.refresh_from_db()
    assert _balance(user.organization) == 0
    assert (purchase.status, purchase.credits_refunded) == ("refunded", 100)

"""Top-ups under concurrency (PostgreSQL): one payment and one credit however many calls race."""

import pytest
from django.test import Client

from agencies.models import Agency, Organization
from billing import accounts, topup
from billing.models import LedgerEntry, Purchase
from tests.billing.flows import deliver, in_threads
from tests.billing.topups import saved_method

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def buyer(stripe_agency, make_client_user):
    agency = stripe_agency()
    organization = make_client_user(agency).organization
    return agency, organization, saved_method(agency, organization)


def _charge(agency_id, organization_id, method, key):
    return topup.topup_charge(
        agency=Agency.objects.get(pk=agency_id),
        organization=Organization.objects.get(pk=organization_id),
        amount_cents=2000,
        currency="EUR",
        payment_method_id=method,
        idempotency_key=key,
    )


def test_the_same_idempotency_key_in_eight_threads_charges_and_credits_once(buyer):
    agency, organization, method = buyer
    results = in_threads(8, lambda i: _charge(agency.pk, organization.pk, method, "race-1"))
    assert {r.status for r in results} == {"succeeded"}
    assert sum(not r.replayed for r in results) == 1
    assert Purchase.objects.count() == 1
    assert len(agency.stripe.deliveries("payment_intent.created")) == 1
    organization.refresh_from_db()
    assert organization.credits_balance == 50 and LedgerEntry.objects.count() == 1


def test_different_keys_in_threads_each_charge_once(buyer):
    agency, organization, method = buyer
    results = in_threads(4, lambda i: _charge(agency.pk, organization.pk, method, f"key-{i}"))
    assert [r.status for r in results] == ["succeeded"] * 4
    organization.refresh_from_db()
    assert organization.credits_balance == 200 and LedgerEntry.objects.count() == 4


def test_the_webhook_and_the_synchronous_answer_racing_credit_once(buyer):
    agency, organization, _ = buyer
    sepa = saved_method(agency, organization, "pm_sepa_debit")
    outcome = _charge(agency.pk, organization.pk, sepa, "sepa-1")
    assert outcome.status == "processing"
    intent_id = outcome.purchase.stripe_payment_intent_id
    agency.stripe.settle_payment(intent_id)
    delivery = agency.stripe.last_delivery("payment_intent.succeeded")
    account = accounts.agency_account(agency)
    intent = agency.stripe.client.v1.payment_intents.retrieve(intent_id)

    def work(i):
        if i % 2:
            return deliver(Client(), agency, delivery).status_code
        return topup.topup_fulfil(account=account, intent=intent).status

    results = in_threads(6, work)
    assert set(results) <= {200, "paid"}
    organization.refresh_from_db()
    assert organization.credits_balance == 50
    assert LedgerEntry.objects.filter(purchase=outcome.purchase).count() == 1

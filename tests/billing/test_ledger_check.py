"""`manage.py ledger_check` after every kind of billing scenario, and when the books are wrong.

(Every other test in tests/billing that touches the database also ends with
ledger_check passing: see pytest_runtest_call in conftest.py.)
"""

import io

import pytest
from django.core.management import CommandError, call_command

from agencies.models import Organization
from billing import ledger
from billing.models import LedgerEntry, Purchase
from tests.billing.flows import bought_and_paid, deliver_last, success_page


def _check() -> str:
    out = io.StringIO()
    call_command("ledger_check", stdout=out)
    return out.getvalue()


def test_ledger_check_passes_after_purchases_refunds_disputes_and_allocations(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    org = user.organization

    paid = bought_and_paid(client, agency, user)  # paid, credited by the success page
    success_page(client, agency, paid)
    refunded = bought_and_paid(client, agency, user)  # paid, then partly and fully refunded
    deliver_last(client, agency, "checkout.session.completed")
    refunded.refresh_from_db()
    agency.stripe.refund(refunded.stripe_payment_intent_id, amount=1000)
    deliver_last(client, agency, "charge.refunded")
    agency.stripe.refund(refunded.stripe_payment_intent_id)
    deliver_last(client, agency, "charge.refunded")
    disputed = bought_and_paid(client, agency, user)  # disputed and lost
    deliver_last(client, agency, "checkout.session.completed")
    disputed.refresh_from_db()
    charge = agency.stripe.client.v1.payment_intents.retrieve(disputed.stripe_payment_intent_id).latest_charge
    dispute = agency.stripe.dispute(charge)
    deliver_last(client, agency, "charge.dispute.created")
    agency.stripe.close_dispute(dispute["id"], "lost")
    deliver_last(client, agency, "charge.dispute.closed")
    bought_and_paid(client, agency, user, amount_total=999)  # mismatch, never credited
    deliver_last(client, agency, "checkout.session.completed")
    bought_and_paid(client, agency, user, delayed=True)  # still processing
    deliver_last(client, agency, "checkout.session.completed")
    ledger.credits_allocate(organization=org, amount=50, description="Bonus", actor=agency.admin, reference="b")
    ledger.credits_deduct(organization=org, amount=20, description="Fix", actor=agency.admin, reference="f")

    org.refresh_from_db()
    assert org.credits_balance == 100 + 0 + 0 + 50 - 20
    assert Purchase.objects.filter(fulfilled_at__isnull=False).count() == 3
    output = _check()
    assert "Ledger check passed" in output and "purchases granted 100 credits" in output


def test_ledger_check_names_an_account_whose_balance_drifted(make_agency, make_client_user, ledger_broken_on_purpose):
    organization = make_client_user(make_agency(active=True), company_name="Drifty Ltd").organization
    ledger.credits_allocate(organization=organization, amount=10, description="x", actor=None, reference="r")
    Organization.objects.filter(pk=organization.pk).update(credits_balance=11)  # written behind the ledger's back
    with pytest.raises(CommandError) as failure:
        _check()
    assert f"organization {organization.pk} (Drifty Ltd): balance 11 != sum of entries 10" in str(failure.value)


def test_ledger_check_names_a_purchase_whose_credits_do_not_add_up(
    client, stripe_agency, make_client_user, ledger_broken_on_purpose
):
    agency = stripe_agency()
    purchase = bought_and_paid(client, agency, make_client_user(agency))
    success_page(client, agency, purchase)
    # A refund recorded on the purchase without its ledger entry.
    Purchase.objects.filter(pk=purchase.pk).update(refunded_cents=4000, credits_refunded=100, status="refunded")
    with pytest.raises(CommandError) as failure:
        _check()
    message = str(failure.value)
    assert (
        f"purchase {purchase.pk} (organization {purchase.organization_id}): should hold 0 credits, "
        "its ledger entries add up to 100"
    ) in message
    assert (
        "fulfilled Checkout sessions minus refunds and disputes hold 0 credits, purchase ledger entries add up to 100"
    ) in message


def test_ledger_check_names_purchase_credits_posted_to_another_organization(
    client, stripe_agency, make_client_user, ledger_broken_on_purpose
):
    agency = stripe_agency()
    purchase = bought_and_paid(client, agency, make_client_user(agency))
    success_page(client, agency, purchase)
    elsewhere = make_client_user(agency, company_name="Elsewhere").organization
    LedgerEntry.objects.filter(purchase=purchase).update(organization=elsewhere)
    Organization.objects.filter(pk=purchase.organization_id).update(credits_balance=0)
    Organization.objects.filter(pk=elsewhere.pk).update(credits_balance=100)
    with pytest.raises(CommandError) as failure:
        _check()
    assert f"purchase {purchase.pk} (organization {purchase.organization_id})" in str(failure.value)

"""Refunds from the agency console: checked and explained first, sent to Stripe once, credits off once."""

import uuid

import pytest
from django.test import Client
from django.utils import timezone

from billing import ledger, reconcile
from billing.models import LedgerEntry, Purchase, Refund, StripeReconciliation
from tests.billing.flows import bought_and_paid, deliver, deliver_last, in_threads
from tests.stripe_fixtures import closed_port

REFUND_FIELDS = {"amount": "", "reason": "requested_by_customer", "note": ""}


def _refund(console, purchase, **fields):
    data = {**REFUND_FIELDS, "token": uuid.uuid4().hex, **fields}
    return console.post(f"/console/billing/purchases/{purchase.pk}/refund/", data)


def _balance(organization) -> int:
    organization.refresh_from_db()
    return organization.credits_balance


def _refunded_on_stripe(agency, purchase) -> int:
    intent = agency.stripe.client.v1.payment_intents.retrieve(purchase.stripe_payment_intent_id)
    return agency.stripe.client.v1.charges.retrieve(intent.latest_charge).amount_refunded


def test_a_whole_refund_removes_the_credits_once_and_issues_a_credit_note(console, client, credited):
    agency, organization, purchase = credited
    response = _refund(console, purchase, note="Client closed the account")
    assert response.status_code == 302
    purchase.refresh_from_db()
    assert _balance(organization) == 0
    assert (purchase.status, purchase.refunded_cents, purchase.credits_refunded) == ("refunded", 4000, 100)
    assert purchase.invoice.credit_notes.count() == 1

    refund = Refund.objects.get(purchase=purchase)
    on_stripe = agency.stripe.client.v1.refunds.retrieve(refund.stripe_refund_id)
    assert (on_stripe.amount, on_stripe.reason) == (4000, "requested_by_customer")
    assert on_stripe.metadata["note"] == "Client closed the account"
    assert on_stripe.metadata["purchase"] == purchase.reference

    # Stripe's charge.refunded webhook, and the next reconciliation, come after: nothing changes.
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    reconcile.stripe_reconcile()
    assert _balance(organization) == 0
    assert LedgerEntry.objects.filter(purchase=purchase, kind="refund").count() == 1
    assert purchase.invoice.credit_notes.count() == 1

    page = console.get(response["Location"])
    assert "Refunded €40.00: 100 credits removed from Acme Bakery." in page.text
    (row,) = page.text.split('data-testid="refund-row"')[1:]
    for shown in ["€40.00", "Requested by the customer", "Client closed the account", agency.admin.email]:
        assert shown in row
    assert "This purchase is refunded in full already." in page.text
    assert ledger.purchases_check() == []


def test_a_partial_refund_in_the_purchase_currency_removes_credits_in_proportion(console, client, credited):
    agency, organization, purchase = credited
    assert _refund(console, purchase, amount="12.50", reason="duplicate").status_code == 302
    purchase.refresh_from_db()
    assert _refunded_on_stripe(agency, purchase) == 1250
    assert (purchase.status, purchase.refunded_cents, purchase.credits_refunded) == ("partially_refunded", 1250, 31)
    assert _balance(organization) == 69
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    assert _balance(organization) == 69

    page = console.get(f"/console/billing/purchases/{purchase.pk}/")
    assert "€27.50 of €40.00 can still be refunded" in page.text
    assert _refund(console, purchase, amount="27,50").status_code == 302  # the rest, with a decimal comma
    purchase.refresh_from_db()
    assert (purchase.status, purchase.credits_refunded, _balance(organization)) == ("refunded", 100, 0)
    assert purchase.invoice.credit_notes.count() == 2


def test_submitting_the_same_form_twice_refunds_once(console, credited):
    agency, organization, purchase = credited
    form = {"amount": "10.00", "token": uuid.uuid4().hex}
    assert _refund(console, purchase, **form).status_code == 302
    assert _refund(console, purchase, **form).status_code == 302
    assert _refunded_on_stripe(agency, purchase) == 1000
    assert Refund.objects.filter(purchase=purchase).count() == 1
    assert _balance(organization) == 75


def test_a_refund_larger_than_what_remains_is_refused_with_the_figures(console, credited):
    agency, _organization, purchase = credited
    response = _refund(console, purchase, amount="45.00")
    assert response.status_code == 400
    assert "You can refund at most €40.00: €40.00 paid, nothing refunded yet. You asked for €45.00." in response.text

    assert _refund(console, purchase, amount="30.00").status_code == 302
    response = _refund(console, purchase, amount="15")
    assert response.status_code == 400
    assert "You can refund at most €10.00: €40.00 paid, €30.00 refunded already. You asked for €15.00." in (
        response.text
    )
    assert _refunded_on_stripe(agency, purchase) == 3000


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "12.5.0"}, "Enter an amount like 12.50 (no currency sign), or leave it empty."),
        ({"amount": "€12"}, "Enter an amount like 12.50 (no currency sign), or leave it empty."),
        ({"amount": "-3"}, "Enter an amount like 12.50 (no currency sign), or leave it empty."),
        ({"amount": "0.00"}, "Enter an amount above zero."),
        ({"reason": "expired_uncaptured_charge"}, "Choose one of the reasons listed."),
        ({"token": "reused"}, "This form has expired; reload the page and try again."),
    ],
)
def test_bad_refund_input_gets_a_clear_message_and_refunds_nothing(console, credited, fields, message):
    agency, organization, purchase = credited
    response = _refund(console, purchase, **fields)
    assert response.status_code == 400 and message in response.text
    assert _refunded_on_stripe(agency, purchase) == 0 and _balance(organization) == 100


def test_refunding_credits_already_spent_asks_to_confirm_first(console, credited):
    agency, organization, purchase = credited
    ledger.credits_deduct(organization=organization, amount=80, description="Calls", actor=None, reference="spent")
    token = uuid.uuid4().hex
    response = _refund(console, purchase, token=token, note="Chargeback threat")
    assert response.status_code == 200
    assert "removes 100 credits, but Acme Bakery has 20 credits left: the balance will go negative by 80 credits" in (
        response.text
    )
    assert _refunded_on_stripe(agency, purchase) == 0 and _balance(organization) == 20

    confirmed = _refund(console, purchase, token=token, note="Chargeback threat", confirm="1")
    assert confirmed.status_code == 302
    assert _refunded_on_stripe(agency, purchase) == 4000 and _balance(organization) == -80
    assert Refund.objects.get(purchase=purchase).note == "Chargeback threat"


def test_a_refund_that_leaves_enough_credits_needs_no_confirmation(console, credited):
    _agency, organization, purchase = credited
    ledger.credits_deduct(organization=organization, amount=50, description="Calls", actor=None, reference="spent")
    assert _refund(console, purchase, amount="20.00").status_code == 302  # 50 credits of the 50 left
    assert _balance(organization) == 0


def test_another_agencys_purchase_is_404_and_get_is_refused(console, client, credited, stripe_agency):
    agency, organization, purchase = credited
    other = stripe_agency()
    console.force_login(other.admin)
    assert _refund(console, purchase).status_code == 404
    assert console.get(f"/console/billing/purchases/{purchase.pk}/").status_code == 404
    console.force_login(agency.admin)
    assert console.get(f"/console/billing/purchases/{purchase.pk}/refund/").status_code == 405
    assert _refunded_on_stripe(agency, purchase) == 0 and _balance(organization) == 100


def test_a_purchase_not_paid_or_disputed_cannot_be_refunded(console, client, credited, make_client_user):
    agency, _organization, purchase = credited
    unpaid = bought_and_paid(Client(), agency, make_client_user(agency), delayed=True)
    response = _refund(console, unpaid)
    assert response.status_code == 400 and "Only a paid purchase can be refunded" in response.text

    charge = agency.stripe.client.v1.payment_intents.retrieve(purchase.stripe_payment_intent_id).latest_charge
    agency.stripe.dispute(charge)
    deliver_last(client, agency, "charge.dispute.created")
    page = console.get(f"/console/billing/purchases/{purchase.pk}/")
    assert "Stripe does not refund a disputed payment" in page.text and 'data-testid="refund-form"' not in page.text
    assert _refund(console, purchase).status_code == 400
    assert Purchase.objects.get(pk=purchase.pk).refunded_cents == 0


def test_the_purchases_page_shows_the_last_reconciliation(console, client, stripe_agency, make_client_user):
    agency = stripe_agency()
    console.force_login(agency.admin)
    assert "Not reconciled with Stripe yet." in console.get("/console/billing/purchases/").text

    (endpoint,) = agency.stripe.client.v1.webhook_endpoints.list().data
    agency.stripe.call(f"/_standin/webhook_endpoints/{endpoint.id}/drop", {"count": "2"})
    bought_and_paid(Client(), agency, make_client_user(agency))  # the buyer's own browser
    reconcile.stripe_reconcile()
    reconciled = timezone.localtime(StripeReconciliation.objects.get(agency=agency).reconciled_at)
    text = console.get("/console/billing/purchases/").text
    shown = f"Last reconciled with Stripe {reconciled:%Y-%m-%d %H:%M}: 1 missed event recovered (1 in all)."
    assert shown in text


def test_the_webhook_first_then_the_console_follow_up_removes_credits_once(console, client, credited):
    """Stripe's webhook can beat the console's own follow-up: refund_record applies Stripe's total once."""
    agency, organization, purchase = credited
    token = uuid.uuid4().hex
    assert _refund(console, purchase, amount="10.00", token=token).status_code == 302
    first = agency.stripe.last_delivery("charge.refunded")
    assert deliver(client, agency, first).status_code == 200
    assert _refund(console, purchase, amount="10.00", token=token).status_code == 302  # the follow-up again
    assert _balance(organization) == 75
    assert LedgerEntry.objects.filter(purchase=purchase, kind="refund").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_refund_form_submitted_twice_at_once_refunds_once(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency, company_name="Acme Bakery")
    purchase = bought_and_paid(Client(), agency, user)
    deliver_last(Client(), agency, "checkout.session.completed")
    purchase.refresh_from_db()
    form = {**REFUND_FIELDS, "amount": "20.00", "token": uuid.uuid4().hex}

    def submit(i):
        admin = Client(HTTP_HOST="localhost")
        admin.force_login(agency.admin)
        return admin.post(f"/console/billing/purchases/{purchase.pk}/refund/", form).status_code

    assert in_threads(2, submit) == [302, 302]
    assert _refunded_on_stripe(agency, purchase) == 2000
    assert Refund.objects.filter(purchase=purchase).count() == 1
    assert _balance(user.organization) == 50
    assert LedgerEntry.objects.filter(purchase=purchase, kind="refund").count() == 1


def test_minutes_bought_from_the_platform_are_not_refundable_from_the_console(
    console, settings, stripe_account, make_agency
):
    settings.PLATFORM_STRIPE_SECRET_KEY = stripe_account().secret_key
    settings.PLATFORM_MINUTES_MIN_PURCHASE = 1000
    agency = make_agency(active=True)
    console.force_login(agency.admin)
    assert console.post("/console/billing/minutes/", {"minutes": "2000"}).status_code == 303
    minutes = Purchase.objects.get(agency=agency, organization=None)
    assert _refund(console, minutes).status_code == 404


def test_a_refund_made_in_stripes_dashboard_whose_webhook_is_late_counts_before_planning(console, credited):
    agency, organization, purchase = credited
    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=3000)  # in Stripe's dashboard; no webhook yet
    response = _refund(console, purchase, amount="20.00")
    assert response.status_code == 400
    assert "You can refund at most €10.00: €40.00 paid, €30.00 refunded already. You asked for €20.00." in (
        response.text
    )
    purchase.refresh_from_db()
    assert (purchase.refunded_cents, purchase.credits_refunded, _balance(organization)) == (3000, 75, 25)
    assert _refund(console, purchase, amount="10.00").status_code == 302
    assert _balance(organization) == 0 and _refunded_on_stripe(agency, purchase) == 4000


def test_stripe_refusing_the_refund_is_explained_and_the_next_try_gets_a_new_token(console, credited):
    agency, organization, purchase = credited
    key = agency.stripe_secret_key
    agency.stripe_secret_key = "sk_test_" + "x" * 24  # revoked in Stripe's dashboard
    agency.save(update_fields=["stripe_secret_key"])
    token = uuid.uuid4().hex
    response = _refund(console, purchase, amount="10.00", token=token)
    assert response.status_code == 400
    assert "Stripe refused your Stripe key: check it on the Stripe settings page. Nothing was refunded." in (
        response.text
    )
    assert token not in response.text
    agency.stripe_secret_key = key
    agency.save(update_fields=["stripe_secret_key"])
    assert _refunded_on_stripe(agency, purchase) == 0 and _balance(organization) == 100


def test_stripe_down_during_a_refund_keeps_the_form_token_for_a_safe_retry(console, credited, settings):
    agency, organization, purchase = credited
    standin = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    token = uuid.uuid4().hex
    response = _refund(console, purchase, amount="10.00", token=token)
    assert response.status_code == 503 and "Submit again in a minute: this form never refunds twice." in (response.text)
    assert f'value="{token}"' in response.text
    settings.STRIPE_API_BASE = standin
    assert _refund(console, purchase, amount="10.00", token=token).status_code == 302
    assert _refunded_on_stripe(agency, purchase) == 1000 and _balance(organization) == 75

"""Top-ups: a saved payment method charged off-session on the stand-in, credited once, with an invoice."""

import pytest

from billing import topup
from billing.models import LedgerEntry, Purchase
from billing.topup import TopupRefused, topup_charge, topup_quote
from invoices.models import Invoice
from tests.billing.flows import deliver, deliver_last
from tests.billing.topups import saved_method


@pytest.fixture
def buyer(stripe_agency, make_client_user):
    """A client of an agency on a stand-in account (100 credits for 40.00 EUR: 40 cents a credit)."""
    agency = stripe_agency()
    user = make_client_user(agency)
    return agency, user.organization, user


def _charge(agency, organization, user, method, *, amount=2000, key="key-1", **extra):
    return topup_charge(
        agency=agency,
        organization=organization,
        amount_cents=amount,
        currency="EUR",
        payment_method_id=method,
        idempotency_key=key,
        buyer=user,
        **extra,
    )


def _balance(organization) -> int:
    organization.refresh_from_db()
    return organization.credits_balance


def test_a_good_card_is_charged_and_credited_once_with_an_invoice(buyer):
    agency, organization, user = buyer
    method = saved_method(agency, organization)
    outcome = _charge(agency, organization, user, method, amount=2000)
    assert outcome.status == "succeeded" and not outcome.replayed
    purchase = outcome.purchase
    assert (purchase.kind, purchase.credits, purchase.amount_cents) == ("topup", 50, 2000)
    assert purchase.stripe_payment_intent_id.startswith("pi_") and purchase.stripe_session_id is None
    assert _balance(organization) == 50
    entry = LedgerEntry.objects.get(purchase=purchase)
    assert entry.kind == "purchase" and entry.amount == 50 and entry.description.startswith("Top-up")
    assert Invoice.objects.get(purchase=purchase).gross_cents == 2000
    intent = agency.stripe.client.v1.payment_intents.retrieve(purchase.stripe_payment_intent_id)
    assert intent.status == "succeeded" and intent.metadata["purchase"] == purchase.reference


def test_the_units_are_whole_credits_at_the_top_up_rate(buyer):
    agency, organization, _ = buyer
    assert topup_quote(agency=agency, organization=organization, amount_cents=2050, currency="eur").units == 51
    agency.topup_rate_cents = 25
    agency.save()
    quote = topup_quote(agency=agency, organization=organization, amount_cents=1010, currency="EUR")
    assert (quote.units, quote.amount_cents, quote.currency) == (40, 1000, "EUR")


def test_the_default_rate_is_the_best_packages_price_rounded_up(buyer):
    from agencies import services

    agency, _, _ = buyer
    services.package_create(agency=agency, credits=300, price_cents=10000, currency="EUR")  # 33.3 cents
    assert topup.topup_rate(agency=agency) == (34, "EUR")


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [(999, "EUR", "amount_too_small"), (2000, "USD", "currency_mismatch"), (True, "EUR", "invalid_field")],
)
def test_a_top_up_that_cannot_be_asked_for_is_refused_before_stripe(buyer, amount, currency, code):
    agency, organization, user = buyer
    method = saved_method(agency, organization)
    with pytest.raises(TopupRefused) as refused:
        topup_charge(
            agency=agency,
            organization=organization,
            amount_cents=amount,
            currency=currency,
            payment_method_id=method,
            idempotency_key="k",
            buyer=user,
        )
    assert refused.value.code == code and refused.value.status == 400
    assert not Purchase.objects.exists() and agency.stripe.deliveries("payment_intent.created") == []


def test_an_agency_without_a_price_has_no_top_up_rate(buyer):
    agency, organization, _ = buyer
    agency.packages.update(archived_at="2026-01-01T00:00:00Z")
    with pytest.raises(TopupRefused) as refused:
        topup_quote(agency=agency, organization=organization, amount_cents=2000, currency="EUR")
    assert refused.value.code == "no_topup_rate"


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedLostCard", "lost_card"),
    ],
)
def test_a_declined_card_credits_nothing_and_says_why(buyer, token, decline_code):
    agency, organization, user = buyer
    outcome = _charge(agency, organization, user, saved_method(agency, organization, token))
    assert outcome.status == "declined" and outcome.decline_code == decline_code and outcome.message
    assert outcome.purchase.status == "failed" and _balance(organization) == 0
    assert not Invoice.objects.exists()
    # Stripe's payment_failed event changes nothing more.
    assert deliver_last_ok(agency, "payment_intent.payment_failed")
    assert _balance(organization) == 0


def deliver_last_ok(agency, event_type) -> bool:
    from django.test import Client

    return deliver_last(Client(), agency, event_type).status_code == 200


def test_authentication_required_gives_a_link_and_credits_once_the_customer_authenticates(buyer):
    agency, organization, user = buyer
    method = saved_method(agency, organization, "pm_card_authenticationRequired")
    outcome = _charge(agency, organization, user, method)
    assert outcome.status == "authentication_required" and outcome.decline_code == "authentication_required"
    assert outcome.authentication_url.startswith(agency.stripe.base_url)
    assert _balance(organization) == 0
    back = agency.stripe.authenticate(outcome.authentication_url)
    assert f"topup={outcome.purchase.reference}" in back
    assert deliver_last_ok(agency, "payment_intent.succeeded")
    assert deliver_last_ok(agency, "payment_intent.succeeded")  # redelivered
    assert topup.topup_confirm(purchase=outcome.purchase).status == "paid"  # the return page asks too
    assert _balance(organization) == 50
    assert LedgerEntry.objects.filter(purchase=outcome.purchase).count() == 1


def test_a_sepa_debit_processes_then_credits_once_when_the_bank_settles_it(buyer, client):
    agency, organization, user = buyer
    outcome = _charge(agency, organization, user, saved_method(agency, organization, "pm_sepa_debit"))
    assert outcome.status == "processing" and outcome.purchase.status == "processing"
    assert _balance(organization) == 0
    agency.stripe.settle_payment(outcome.purchase.stripe_payment_intent_id)
    delivery = agency.stripe.last_delivery("payment_intent.succeeded")
    assert deliver(client, agency, delivery).json()["outcome"].endswith("paid")
    assert deliver(client, agency, delivery).json()["outcome"].startswith("duplicate")
    assert _balance(organization) == 50 and Invoice.objects.filter(purchase=outcome.purchase).count() == 1


def test_a_sepa_debit_the_bank_returns_fails_without_credit(buyer, client):
    agency, organization, user = buyer
    outcome = _charge(agency, organization, user, saved_method(agency, organization, "pm_sepa_debit"))
    agency.stripe.settle_payment(outcome.purchase.stripe_payment_intent_id, succeeded=False)
    assert deliver_last(client, agency, "payment_intent.payment_failed").status_code == 200
    outcome.purchase.refresh_from_db()
    assert outcome.purchase.status == "failed" and _balance(organization) == 0


def test_the_webhook_after_the_synchronous_answer_credits_nothing_more(buyer, client):
    agency, organization, user = buyer
    outcome = _charge(agency, organization, user, saved_method(agency, organization))
    response = deliver_last(client, agency, "payment_intent.succeeded")
    assert response.status_code == 200 and response.json()["outcome"] == f"purchase {outcome.purchase.pk} paid"
    assert _balance(organization) == 50 and LedgerEntry.objects.filter(purchase=outcome.purchase).count() == 1


def test_the_same_idempotency_key_twice_charges_once_and_replays_the_outcome(buyer):
    agency, organization, user = buyer
    method = saved_method(agency, organization)
    first = _charge(agency, organization, user, method, key="same")
    again = _charge(agency, organization, user, method, key="same")
    assert again.replayed and again.status == "succeeded" and again.purchase.pk == first.purchase.pk
    assert len(agency.stripe.deliveries("payment_intent.created")) == 1
    assert _balance(organization) == 50


def test_a_declined_top_up_replays_its_decline_without_charging_again(buyer):
    agency, organization, user = buyer
    method = saved_method(agency, organization, "pm_card_chargeDeclinedInsufficientFunds")
    _charge(agency, organization, user, method, key="d")
    again = _charge(agency, organization, user, method, key="d")
    assert again.replayed and again.status == "declined" and again.decline_code == "insufficient_funds"
    assert len(agency.stripe.deliveries("payment_intent.created")) == 1


def test_the_same_key_with_another_request_is_refused(buyer):
    agency, organization, user = buyer
    method = saved_method(agency, organization)
    _charge(agency, organization, user, method, key="k", amount=2000)
    with pytest.raises(TopupRefused) as refused:
        _charge(agency, organization, user, method, key="k", amount=3000)
    assert (refused.value.code, refused.value.status) == ("idempotency_key_reused", 409)
    assert _balance(organization) == 50


def test_a_retry_after_stripe_was_unreachable_charges_once(buyer, monkeypatch):
    from billing import stripe_api

    agency, organization, user = buyer
    method = saved_method(agency, organization)
    create = stripe_api.payment_intent_create

    def connection_lost(**kwargs):
        create(**kwargs)  # Stripe charged, but the answer never arrived
        raise stripe_api.StripeUnavailable("payment intent create")

    monkeypatch.setattr(stripe_api, "payment_intent_create", connection_lost)
    with pytest.raises(stripe_api.StripeUnavailable):
        _charge(agency, organization, user, method, key="retry")
    assert Purchase.objects.get().status == "pending" and _balance(organization) == 0
    monkeypatch.setattr(stripe_api, "payment_intent_create", create)
    outcome = _charge(agency, organization, user, method, key="retry")
    assert outcome.status == "succeeded" and outcome.replayed and _balance(organization) == 50
    assert len(agency.stripe.deliveries("payment_intent.created")) == 1


def test_another_clients_payment_method_is_not_found(buyer, make_client_user):
    agency, organization, user = buyer
    other = make_client_user(agency).organization
    theirs = saved_method(agency, other)
    with pytest.raises(TopupRefused) as refused:
        _charge(agency, organization, user, theirs)
    assert (refused.value.code, refused.value.status) == ("payment_method_not_found", 404)
    assert not Purchase.objects.exists()


def test_an_auto_reload_is_a_purchase_of_its_kind_with_its_reason(buyer):
    agency, organization, _ = buyer
    outcome = _charge(
        agency,
        organization,
        None,
        saved_method(agency, organization),
        kind="auto_reload",
        description="balance 42 fell below 50; reloading 500",
    )
    assert outcome.purchase.kind == "auto_reload" and outcome.purchase.buyer is None
    entry = LedgerEntry.objects.get(purchase=outcome.purchase)
    assert entry.description == "balance 42 fell below 50; reloading 500"


def test_an_agency_tops_up_platform_minutes_on_the_platform_account(make_agency, stripe_platform):
    agency = make_agency(active=True)
    method = saved_method(agency, None, stand_in=stripe_platform)
    outcome = topup_charge(
        agency=agency,
        organization=None,
        amount_cents=1400,
        currency="EUR",
        payment_method_id=method,
        idempotency_key="minutes-1",
        buyer=agency.admin,
    )
    assert outcome.status == "succeeded"
    purchase = outcome.purchase
    assert purchase.is_minutes and purchase.credits == 1400 // 7
    assert purchase.amount_cents >= 1400  # VAT on top of the platform's price, when due
    agency.refresh_from_db()
    assert agency.minutes_balance == 200
    assert Invoice.objects.get(purchase=purchase).organization_id is None
    intent = stripe_platform.client.v1.payment_intents.retrieve(purchase.stripe_payment_intent_id)
    assert intent.amount == purchase.amount_cents

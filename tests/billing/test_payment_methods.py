"""Saved payment methods: on the right Stripe account, the buyer's own only, a default kept."""

import pytest

from billing import payment_methods
from billing.models import StripeCustomer
from tests.billing.flows import deliver
from tests.billing.topups import saved_method


def _setup(agency, organization, email="payer@example.com"):
    return payment_methods.method_setup_start(
        agency=agency,
        organization=organization,
        email=email,
        success_url="https://portal.example/ok",
        cancel_url="https://portal.example/cancel",
    )


def test_a_setup_session_saves_a_method_and_the_webhook_makes_the_first_the_default(
    client, stripe_agency, make_client_user
):
    agency = stripe_agency()
    organization = make_client_user(agency).organization
    started = _setup(agency, organization)
    session = agency.stripe.client.v1.checkout.sessions.retrieve(started.session_id)
    assert session.mode == "setup" and session.customer == StripeCustomer.objects.get().customer_id
    agency.stripe.save_payment_method(started.session_id, "pm_sepa_debit")
    response = deliver(client, agency, agency.stripe.last_delivery("checkout.session.completed"))
    assert response.json()["outcome"] == "payment method saved as the default"
    (method,) = payment_methods.methods_list(agency=agency, organization=organization)
    assert (method.type, method.last4, method.default, method.brand) == ("sepa_debit", "3000", True, None)
    # A second method saved later does not take the default.
    second = _setup(agency, organization)
    agency.stripe.save_payment_method(second.session_id, "pm_card_amex")
    response = deliver(client, agency, agency.stripe.last_delivery("checkout.session.completed"))
    assert response.json()["outcome"] == "payment method saved"
    assert [m.default for m in payment_methods.methods_list(agency=agency, organization=organization)].count(True) == 1


def test_one_customer_per_buyer_and_account(stripe_agency, make_client_user):
    agency = stripe_agency()
    organization = make_client_user(agency).organization
    _setup(agency, organization)
    _setup(agency, organization)
    assert StripeCustomer.objects.filter(organization=organization).count() == 1
    other = make_client_user(agency).organization
    _setup(agency, other)
    assert StripeCustomer.objects.count() == 2


def test_a_setup_session_webhook_for_a_customer_not_ours_is_ignored(client, stripe_agency):
    agency = stripe_agency()
    stranger = agency.stripe.client.v1.customers.create({"email": "x@example.com"})
    session = agency.stripe.client.v1.checkout.sessions.create(
        {"mode": "setup", "customer": stranger.id, "currency": "eur", "success_url": "https://example.com/ok"}
    )
    agency.stripe.save_payment_method(session.id)
    response = deliver(client, agency, agency.stripe.last_delivery("checkout.session.completed"))
    assert response.json()["outcome"] == "ignored: not a customer of this portal"


def test_another_buyers_method_is_not_found(stripe_agency, make_client_user):
    agency = stripe_agency()
    mine, theirs = (make_client_user(agency).organization for _ in range(2))
    saved_method(agency, mine)
    foreign = saved_method(agency, theirs)
    for act in (payment_methods.method_detach, payment_methods.method_default_set, payment_methods.method_find):
        with pytest.raises(payment_methods.MethodNotFound):
            act(agency=agency, organization=mine, payment_method_id=foreign)
    assert agency.stripe.client.v1.payment_methods.retrieve(foreign).customer


def test_detaching_calls_the_removal_hooks(stripe_agency, make_client_user, monkeypatch):
    agency = stripe_agency()
    organization = make_client_user(agency).organization
    method = saved_method(agency, organization)
    heard = []
    monkeypatch.setattr(payment_methods, "METHOD_REMOVED_HOOKS", [lambda **kwargs: heard.append(kwargs)])
    payment_methods.method_detach(agency=agency, organization=organization, payment_method_id=method)
    assert heard == [{"agency": agency, "organization": organization, "payment_method_id": method}]
    assert payment_methods.methods_list(agency=agency, organization=organization) == []


def test_a_connected_agencys_clients_save_methods_on_the_connected_account(connected_agency, make_client_user):
    agency = connected_agency()
    organization = make_client_user(agency).organization
    started = _setup(agency, organization)
    session = agency.stripe.client.v1.checkout.sessions.retrieve(started.session_id)  # with Stripe-Account
    assert session.mode == "setup"
    assert StripeCustomer.objects.get().account == agency.stripe_account_id


def test_an_agency_saves_methods_on_the_platform_account(make_agency, stripe_platform):
    agency = make_agency(active=True)
    started = _setup(agency, None)
    assert stripe_platform.client.v1.checkout.sessions.retrieve(started.session_id).mode == "setup"
    record = StripeCustomer.objects.get()
    assert record.account == "platform" and record.organization is None

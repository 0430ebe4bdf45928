"""Checkout syncs the client's billing details to its customer on the agency's Stripe account (billing.customers)."""

from billing.models import Purchase
from invoices.models import BillingDetails
from tests.billing.flows import checkout_start
from tests.conftest import host
from tests.invoices.conftest import billing_set
from tests.stripe_fixtures import closed_port


def _customer(agency, purchase):
    session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    assert session.customer and session.customer_email is None
    customer = agency.stripe.client.v1.customers.retrieve(session.customer)
    tax_ids = agency.stripe.client.v1.customers.tax_ids.list(customer.id).data
    return customer, [(t.type, t.value) for t in tax_ids]


def test_checkout_creates_the_customer_with_name_address_and_tax_id(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency, email="buyer@example.com")
    billing_set(user.organization, country="NL", vat_id="NL004495445B01", name="Client BV")
    _, purchase = checkout_start(client, agency, user)

    customer, tax_ids = _customer(agency, purchase)
    assert (customer.name, customer.email) == ("Client BV", "buyer@example.com")
    assert (customer.address.line1, customer.address.postal_code, customer.address.city, customer.address.country) == (
        "Damrak 1",
        "1012 LG",
        "Amsterdam",
        "NL",
    )
    assert customer.metadata["organization_id"] == str(user.organization_id)
    assert tax_ids == [("eu_vat", "NL004495445B01")]
    assert BillingDetails.objects.get().stripe_customer_id == customer.id


def test_a_later_checkout_updates_the_same_customer_and_replaces_its_tax_id(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    billing_set(user.organization, country="NL", vat_id="NL004495445B01")
    _, first = checkout_start(client, agency, user)
    billing_set(user.organization, country="GR", vat_id="EL094259216", name="Client AE")
    _, second = checkout_start(client, agency, user)

    customer, tax_ids = _customer(agency, second)
    assert customer.id == _customer(agency, first)[0].id
    assert (customer.name, customer.address.country) == ("Client AE", "GR")
    assert tax_ids == [("eu_vat", "EL094259216")]

    billing_set(user.organization, country="US", vat_id="")  # no VAT ID any more: the tax id goes
    _, third = checkout_start(client, agency, user)
    assert _customer(agency, third)[1] == []


def test_a_customer_the_stripe_account_does_not_know_is_made_anew(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    billing_set(user.organization, country="FR")
    BillingDetails.objects.update(stripe_customer_id="cus_fromAnotherAccount")
    _, purchase = checkout_start(client, agency, user)
    customer, _ = _customer(agency, purchase)
    assert customer.id != "cus_fromAnotherAccount"
    assert BillingDetails.objects.get().stripe_customer_id == customer.id


def test_without_billing_details_checkout_sends_the_email_alone(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency, email="solo@example.com")
    _, purchase = checkout_start(client, agency, user)
    session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    assert session.customer is None and session.customer_email == "solo@example.com"
    assert agency.stripe.client.v1.customers.list().data == []
    assert Purchase.objects.count() == 1


def test_stripe_unreachable_while_syncing_the_customer_writes_nothing(
    client, stripe_agency, make_client_user, settings
):
    agency = stripe_agency(company_name="Sunrise Calls")
    user = make_client_user(agency)
    billing_set(user.organization, country="NL", vat_id="NL004495445B01")
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    client.force_login(user)
    response = client.post(f"/billing/buy/{agency.packages.get().pk}/", HTTP_HOST=host(agency))
    assert response.status_code == 503 and "Nothing was charged" in response.text
    assert not Purchase.objects.exists() and BillingDetails.objects.get().stripe_customer_id == ""

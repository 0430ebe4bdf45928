"""`load_demo` leaves the demo agency working end to end against the Stripe stand-in."""

import io

from django.core.management import call_command

from agencies.models import Agency, User
from invoices.models import Invoice
from tests.billing.flows import bought_and_paid, deliver_last
from tests.stripe_fixtures import StandInAccount

DEMO_WEBHOOK_URL = "http://localhost/api/webhooks/stripe/demo"


def test_load_demo_creates_the_price_and_webhook_on_the_stand_in_idempotently(db, stripe_base):
    call_command("load_demo", stdout=io.StringIO())
    first = Agency.objects.get(slug="demo")
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    agency = Agency.objects.get(slug="demo")
    assert "demo product, price and webhook ready" in out.getvalue()

    account = StandInAccount(stripe_base, agency.stripe_secret_key)
    packages = list(agency.packages.order_by("credits"))
    for package, before in zip(packages, first.packages.order_by("credits"), strict=True):
        price = account.client.v1.prices.retrieve(package.stripe_price_id)
        assert (price.unit_amount, price.currency, price.type, price.product, price.active) == (
            package.price_cents,
            package.currency.lower(),
            "one_time",
            agency.stripe_product_id,
            True,
        )
        assert package.stripe_price_id == before.stripe_price_id  # the second run reused it
    assert [p.id for p in account.client.v1.products.list().data] == [agency.stripe_product_id]
    endpoints = [e for e in account.client.v1.webhook_endpoints.list().data if e.url == DEMO_WEBHOOK_URL]
    assert len(endpoints) == 1
    assert "checkout.session.completed" in endpoints[0].enabled_events


def test_the_demo_client_buys_credits_on_the_stand_in(db, client, stripe_base):
    call_command("load_demo", stdout=io.StringIO())
    agency = Agency.objects.get(slug="demo")
    agency.stripe = StandInAccount(stripe_base, agency.stripe_secret_key)
    user = User.objects.get(email="client@example.com", agency=agency)

    bought_and_paid(client, agency, user)
    delivery = agency.stripe.last_delivery("checkout.session.completed")
    assert delivery["url"] == DEMO_WEBHOOK_URL
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200  # the stored secret fits
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100
    invoice = Invoice.objects.get(organization=user.organization)
    assert invoice.number.startswith("DEMO-")
    # A Dutch seller, a client without billing details: domestic Dutch VAT, included in the price.
    assert (invoice.gross_cents, invoice.vat_rate_bp) == (4000, 2100)
    assert invoice.net_cents + invoice.vat_cents == 4000


def test_the_demo_agency_holds_minutes_so_its_clients_calls_go_through(db, client, stripe_base):
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())  # a second run adds nothing
    agency = Agency.objects.get(slug="demo")
    assert agency.minutes_balance == 10_000 and agency.is_active
    assert agency.ledger_entries.filter(reference="demo:opening-minutes").count() == 1

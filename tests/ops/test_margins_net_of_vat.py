"""Margins net of VAT: the packages page's calculator and the business dashboard agree with the invoices
to the cent (defect: with prices including VAT they counted the VAT as profit)."""

import re

import pytest
from django.test import Client

from core.money import money_format
from invoices.models import CreditNote, Invoice
from tests.billing.flows import deliver_last
from tests.conftest import NOON
from tests.invoices.conftest import paid, seller_set

pytestmark = pytest.mark.now(NOON)


def console_for(agency) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(agency.admin)
    return client


def cells(html: str) -> dict:
    return dict(re.findall(r'data-testid="([a-z-]+)">(?:<strong>)?([^<]*)<', html))


def test_a_dutch_agency_with_prices_including_vat_earns_its_margin_on_the_invoices_net(
    client, stripe_agency, make_client_user, settings
):
    settings.PLATFORM_MINUTE_PRICE_CENTS = 7
    agency = stripe_agency()  # sells 100 credits for €40.00
    seller_set(agency, country="NL", vat_id="", include=True)
    purchase = paid(client, agency, make_client_user(agency))
    invoice = Invoice.objects.get(purchase=purchase)
    assert (invoice.gross_cents, invoice.net_cents, invoice.vat_rate_bp) == (4000, 3306, 2100)

    packages = console_for(agency).get("/console/packages/").text
    row = cells(packages.split('data-testid="package-row"')[1])
    assert (row["net"], row["cost"], row["profit"], row["margin"]) == ("€33.06", "€7.00", "€26.06", "78.8%")
    # Margin on net revenue (26.06 / 33.06); beside it, the profit's share of the gross €40.00 (26.06 / 40.00).
    assert row["gross-share"] == "65.2% of what the client pays"
    assert "€40.00" in packages  # the gross price beside it
    assert "net of VAT" in packages and "21 %, the rate of your own country (NL)" in packages

    business = cells(console_for(agency).get("/console/ops/business/").text)
    assert business["revenue-net"] == "€33.06"  # the sum of the invoices' net amounts
    assert business["revenue-gross"] == "€40.00"
    assert business["sales-net"] == "€33.06"
    assert business["margin"] == "€33.06"  # no minutes used yet in the period


def test_prices_excluding_vat_are_the_net_and_the_client_pays_the_vat_on_top(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="NL", vat_id="", include=False)
    row = cells(console_for(agency).get("/console/packages/").text.split('data-testid="package-row"')[1])
    assert row["net"] == "€40.00"
    assert "client pays €48.40" in console_for(agency).get("/console/packages/").text


def test_a_refund_takes_its_credit_notes_net_off_the_dashboards_net_revenue(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="NL", vat_id="", include=True)
    purchase = paid(client, agency, make_client_user(agency))
    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=1000)
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    invoice, note = Invoice.objects.get(), CreditNote.objects.get()

    business = cells(console_for(agency).get("/console/ops/business/").text)

    assert business["revenue-net"] == money_format(invoice.net_cents - note.net_cents)  # €33.06 - €8.26
    assert business["revenue-net"] == "€24.80"
    assert business["revenue-gross"] == "€30.00"

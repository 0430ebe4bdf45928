"""An invoice or credit note is visible to its own organization and its agency only: 404 for anyone else."""

import pytest
from django.test import Client

from invoices.models import CreditNote, Invoice
from tests.billing.flows import deliver_last
from tests.conftest import host
from tests.invoices.conftest import paid, seller_set


@pytest.fixture
def documents(client, stripe_agency, make_client_user):
    """Agency A's client has an invoice and a credit note; A has a second client; agency B has its own."""
    agency, other_agency = stripe_agency(), stripe_agency()
    seller_set(agency, prefix="AAA")
    owner = make_client_user(agency)
    purchase = paid(client, agency, owner)
    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=1000)
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    return {
        "agency": agency,
        "other_agency": other_agency,
        "owner": owner,
        "neighbour": make_client_user(agency),
        "stranger": make_client_user(other_agency),
        "invoice": Invoice.objects.get(),
        "note": CreditNote.objects.get(),
    }


def _portal_urls(d):
    return [f"/settings/billing/invoices/{d['invoice'].pk}.pdf", f"/settings/billing/credit-notes/{d['note'].pk}.pdf"]


def _console_urls(d):
    return [f"/console/invoices/{d['invoice'].pk}.pdf", f"/console/invoices/credit-notes/{d['note'].pk}.pdf"]


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owning_organization_and_its_agency_get_the_pdfs(documents):
    d = documents
    owner = _as(d["owner"])
    for url in _portal_urls(d):
        assert owner.get(url, HTTP_HOST=host(d["agency"])).status_code == 200
    admin = _as(d["agency"].admin)
    for url in _console_urls(d):
        assert admin.get(url, HTTP_HOST="localhost").status_code == 200


def test_another_client_of_the_same_agency_gets_404(documents):
    d = documents
    neighbour = _as(d["neighbour"])
    for url in _portal_urls(d):
        assert neighbour.get(url, HTTP_HOST=host(d["agency"])).status_code == 404
    page = neighbour.get("/settings/billing/", HTTP_HOST=host(d["agency"]))
    assert page.status_code == 200 and d["invoice"].number not in page.text and d["note"].number not in page.text


def test_a_client_of_another_agency_gets_404_on_its_own_portal(documents):
    d = documents
    stranger = _as(d["stranger"])
    for url in _portal_urls(d):
        assert stranger.get(url, HTTP_HOST=host(d["other_agency"])).status_code == 404


def test_another_agencys_admin_gets_404_and_does_not_see_the_invoice_listed(documents):
    d = documents
    other_admin = _as(d["other_agency"].admin)
    for url in _console_urls(d):
        assert other_admin.get(url, HTTP_HOST="localhost").status_code == 404
    page = other_admin.get("/console/invoices/", HTTP_HOST="localhost")
    assert page.status_code == 200 and d["invoice"].number not in page.text


def test_the_agency_admin_cannot_use_the_portal_urls_and_clients_cannot_use_the_console_urls(documents):
    d = documents
    owner = _as(d["owner"])
    for url in _console_urls(d):  # the owner's session does not count on the console host
        response = owner.get(url, HTTP_HOST="localhost")
        assert response.status_code in (302, 404) and response.get("Content-Type") != "application/pdf"
    admin = _as(d["agency"].admin)
    for url in _portal_urls(d):
        response = admin.get(url, HTTP_HOST=host(d["agency"]))
        assert response.status_code in (302, 404) and response.get("Content-Type") != "application/pdf"


def test_anonymous_visitors_are_sent_to_log_in(documents):
    d = documents
    for url in _portal_urls(d):
        response = Client().get(url, HTTP_HOST=host(d["agency"]))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

"""GET /api/v1/billing/invoices and …/{id}/pdf: a buyer's invoices and credit notes, downloadable with the same key."""

import itertools
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from agencies.models import CreditPackage
from billing import ledger, refunds
from billing.models import LedgerEntry, Purchase
from invoices import services as invoicing
from tests.conftest import NOON, seller_details_add

_sessions = itertools.count(1)


def purchase_paid(agency, organization=None, *, credits=100, cents=4000, refunded_cents=0) -> Purchase:
    """A purchase paid and credited as fulfilment does (ledger entry, invoice), optionally part-refunded."""
    package = None
    if organization is not None:
        package = CreditPackage.objects.create(agency=agency, credits=credits, price_cents=cents, currency="EUR")
    n = next(_sessions)
    with transaction.atomic():
        purchase = Purchase.objects.create(
            reference=f"ref{n}",
            agency=agency,
            organization=organization,
            package=package,
            credits=credits,
            amount_cents=cents,
            currency="EUR",
            livemode=False,
            stripe_session_id=f"cs_test_{n}",
            status=Purchase.Status.PAID,
            fulfilled_at=timezone.now(),
        )
        ledger.entry_post(
            amount=credits,
            kind=LedgerEntry.Kind.PURCHASE,
            reference=f"purchase:{purchase.pk}",
            description=f"Bought {credits}",
            organization=organization,
            agency=None if organization is not None else agency,
            purchase=purchase,
        )
        invoicing.invoice_issue_for_purchase(purchase=purchase)
    if refunded_cents:
        with transaction.atomic():
            purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
            purchase.refunded_cents = refunded_cents
            purchase.status = Purchase.Status.PARTIALLY_REFUNDED
            refunds.credits_sync(purchase)
            purchase.save()
            invoicing.credit_note_issue_for_refunds(purchase=purchase)
    return purchase


@pytest.mark.now(NOON)
def test_a_client_lists_its_invoices_and_credit_notes_newest_first(api, clock, agency, org, client_key):
    seller_details_add(agency)
    first = purchase_paid(agency, org, cents=4000)
    clock.shift(timedelta(hours=1))
    purchase_paid(agency, org, cents=2000, refunded_cents=500)

    body = api.get("billing/invoices", client_key).json()

    assert [(doc["type"], doc["gross"]) for doc in body["data"]] == [
        ("credit_note", {"amount": 500, "currency": "EUR"}),
        ("invoice", {"amount": 2000, "currency": "EUR"}),
        ("invoice", {"amount": 4000, "currency": "EUR"}),
    ]
    oldest = body["data"][-1]
    assert oldest["id"] == f"inv_{first.invoice.pk}" and oldest["number"] == first.invoice.number
    assert oldest["net"]["amount"] + oldest["vat"]["amount"] == 4000 and oldest["currency"] == "EUR"
    assert oldest["date"] == "2026-05-13" and oldest["status"] == "paid"
    assert body["data"][1]["status"] == "partially_refunded" and body["data"][0]["status"] == "issued"
    assert oldest["pdf_url"] == f"http://localhost/api/v1/billing/invoices/{oldest['id']}/pdf"
    assert body["has_more"] is False and body["next_cursor"] is None


@pytest.mark.now(NOON)
def test_documents_page_with_a_cursor_without_repeats(api, agency, org, client_key):
    for cents in (1000, 2000, 3000):
        purchase_paid(agency, org, cents=cents, refunded_cents=100)  # same instant: ties broken by type and id

    seen, cursor = [], None
    while True:
        body = api.get("billing/invoices", client_key, limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [doc["id"] for doc in body["data"]]
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
    assert len(seen) == len(set(seen)) == 6


def test_the_pdf_downloads_with_the_same_key(api, agency, org, client_key):
    purchase_paid(agency, org, refunded_cents=1000)
    documents = api.get("billing/invoices", client_key).json()["data"]

    for document in documents:
        response = api.client.get(document["pdf_url"], HTTP_AUTHORIZATION=f"Bearer {client_key}")
        assert response.status_code == 200, response.content[:200]
        assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
        assert document["number"] in response["Content-Disposition"]
    assert api.client.get(documents[0]["pdf_url"]).status_code == 401


def test_an_agency_key_sees_the_platforms_invoices_to_it_or_one_clients_with_organization_id(
    api, agency, org, agency_key
):
    minutes = purchase_paid(agency, credits=500, cents=5000)
    client_purchase = purchase_paid(agency, org, cents=4000)

    own = api.get("billing/invoices", agency_key).json()["data"]
    assert [doc["id"] for doc in own] == [f"inv_{minutes.invoice.pk}"]
    clients = api.get("billing/invoices", agency_key, organization_id=org.pk).json()["data"]
    assert [doc["id"] for doc in clients] == [f"inv_{client_purchase.invoice.pk}"]
    assert clients[0]["pdf_url"].endswith(f"/pdf?organization_id={org.pk}")
    assert api.client.get(clients[0]["pdf_url"], HTTP_AUTHORIZATION=f"Bearer {agency_key}").status_code == 200
    assert api.get(f"billing/invoices/{own[0]['id']}/pdf", agency_key).status_code == 200


def test_another_tenants_or_an_unknown_document_is_404(api, agency, org, client_key, agency_key, other_agency):
    theirs = purchase_paid(other_agency, other_agency.org, refunded_cents=100)
    mine_as_agency = purchase_paid(agency, credits=500, cents=5000)
    note_id = f"cn_{theirs.invoice.credit_notes.get().pk}"

    for key, document_id in [
        (client_key, f"inv_{theirs.invoice.pk}"),
        (client_key, note_id),
        (agency_key, f"inv_{theirs.invoice.pk}"),
        (client_key, f"inv_{mine_as_agency.invoice.pk}"),  # the agency's own invoice is not its client's
        (client_key, "inv_999999999"),
        (client_key, "inv_abc"),
        (client_key, "receipt_1"),
        (client_key, "inv_" + "9" * 40),
    ]:
        response = api.get(f"billing/invoices/{document_id}/pdf", key)
        assert response.status_code == 404, (document_id, response.content)
        assert response.json()["error"]["code"] == "document_not_found"
    assert api.get("billing/invoices", other_agency.client_key).json()["data"][0]["id"] == f"cn_{note_id[3:]}"


def test_a_pdf_link_with_a_bad_or_foreign_organization_id_is_refused_as_documented(
    api, agency, org, agency_key, other_agency
):
    """Found by tests/test_fuzz_api.py: the PDF endpoint reads organization_id like the list it links from."""
    document_id = f"inv_{purchase_paid(agency, org, cents=4000).invoice.pk}"

    malformed = api.get(f"billing/invoices/{document_id}/pdf", agency_key, organization_id="0")
    foreign = api.get(f"billing/invoices/{document_id}/pdf", agency_key, organization_id=other_agency.org.pk)

    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "invalid_parameter")
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "organization_not_found")


def test_a_bad_cursor_or_limit_is_400(api, org, client_key):
    assert api.get("billing/invoices", client_key, cursor="nope").json()["error"]["code"] == "invalid_cursor"
    assert api.get("billing/invoices", client_key, limit="0").json()["error"]["code"] == "invalid_parameter"


def test_transactions_show_what_a_purchase_paid(api, agency, org, client_key):
    purchase = purchase_paid(agency, org, credits=100, cents=4000)

    row = api.get("billing/transactions", client_key, kind="purchase").json()["data"][0]

    assert row["kind"] == "purchase" and row["amount"] == 100
    assert row["money"] == {"amount": 4000, "currency": "EUR"} and row["reference"] == f"purchase:{purchase.pk}"

"""/api/v1/billing/usage, usage/detailed, transactions, invoices (and their PDFs): reads for dashboards and books.

A client key reads its organization (credits); an agency key reads the agency itself (minutes), or one of
its clients with ?organization_id=. Alerts live in ops/api_alerts.py (ops reads and writes them).
"""

from calendar import monthrange
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone

from billing import transactions as ledger_rows
from invoices import pdf as invoice_pdfs, selectors as invoice_selectors
from invoices.logo import logo_fetch
from invoices.models import CreditNote

from . import holds, selectors, summaries
from .api import ApiError, Caller, api_endpoint, organization_for, query_int
from .api_params import (
    MAX_RANGE_DAYS,
    bad_cursor,
    cursor_dump,
    cursor_load,
    money,
    query_choice,
    query_date,
    query_limit,
    query_month,
    timestamp,
)

TRANSACTIONS_CURSOR = "api.v1.transactions"
INVOICES_CURSOR = "api.v1.invoices"


def _organization(request, caller: Caller):
    return organization_for(caller, query_int(request, "organization_id"), required=False)


def _unit_and_price(caller: Caller, organization) -> tuple[str, selectors.MinutePrice | None]:
    """A client's credits cost its agency's credit price; an agency's minutes, the platform's price."""
    if organization is None:
        return "minutes", selectors.platform_minute_price()
    return "credits", selectors.client_credit_price(agency_id=caller.agency_id)


@api_endpoint("GET")
def billing_usage(request, caller: Caller):
    first = query_month(request)
    organization = _organization(request, caller)
    last = first.replace(day=monthrange(first.year, first.month)[1])
    records = summaries.usage_range(agency_id=caller.agency_id, organization=organization, start=first, end=last)
    unit, price = _unit_and_price(caller, organization)
    return JsonResponse(
        {
            "month": f"{first:%Y-%m}",
            "organization_id": organization.pk if organization else None,
            "unit": unit,
            "totals": summaries.summary_json(summaries.usage_total(records), price),
            "days": [
                summaries.summary_json(day, price, label="date")
                for day in summaries.usage_grouped(records, group_by="day")
            ],
        }
    )


@api_endpoint("GET")
def billing_usage_detailed(request, caller: Caller):
    today = timezone.now().astimezone(UTC).date()
    asked_start, asked_end = query_date(request, "from"), query_date(request, "to")
    end = asked_end or max(today, asked_start or today)
    start = asked_start or end.replace(day=1)  # this month's first without `to`; else that of `to`'s month
    if start > end:
        raise ApiError(400, "invalid_date_range", "from must not be after to.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ApiError(400, "invalid_date_range", f"A range covers at most {MAX_RANGE_DAYS} days.")
    group_by = query_choice(request, "group_by", summaries.GROUPINGS, default="day")
    assert group_by is not None  # defaulted
    organization = _organization(request, caller)
    if group_by == "organization" and not caller.is_agency:
        raise ApiError(403, "agency_key_required", "Only an agency's API key can group usage by organization.")
    records = summaries.usage_range(agency_id=caller.agency_id, organization=organization, start=start, end=end)
    unit, price = _unit_and_price(caller, organization)
    return JsonResponse(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "group_by": group_by,
            "organization_id": organization.pk if organization else None,
            "unit": unit,
            "totals": summaries.summary_json(summaries.usage_total(records), price),
            "groups": [
                summaries.summary_json(group, price, label="key")
                for group in summaries.usage_grouped(records, group_by=group_by)
            ],
        }
    )


def _transaction_json(row: ledger_rows.Transaction, unit: str) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "created_at": timestamp(row.created_at),
        "amount": row.amount,
        "unit": unit,
        "balance_after": row.balance_after,
        "description": row.description,
        "reference": row.reference,
        "calls": row.calls,
        "money": money(row.money_cents, row.currency),
        "organization_id": row.organization_id,
    }


@api_endpoint("GET")
def transactions(request, caller: Caller):
    caller.require(client="invoices", agency="view")
    limit = query_limit(request)
    kind = query_choice(request, "kind", ledger_rows.KINDS)
    start, end = query_date(request, "from"), query_date(request, "to")
    if start and end and start > end:
        raise ApiError(400, "invalid_date_range", "from must not be after to.")
    values = cursor_load(request, salt=TRANSACTIONS_CURSOR)
    try:
        after = ledger_rows.Key.from_list(values) if values is not None else None
    except (ValueError, OverflowError):
        raise bad_cursor() from None
    organization = _organization(request, caller)
    page = holds.transactions_page(
        agency=caller.agency if organization is None else None,
        organization=organization,
        kind=kind,
        start=start,
        end=end,
        after=after,
        limit=limit,
    )
    unit = "minutes" if organization is None else "credits"
    return JsonResponse(
        {
            "data": [_transaction_json(row, unit) for row in page.rows],
            "has_more": page.next_key is not None,
            "next_cursor": cursor_dump(page.next_key.as_list(), salt=TRANSACTIONS_CURSOR) if page.next_key else None,
        }
    )


def _document_id(document) -> str:
    return f"cn_{document.pk}" if isinstance(document, CreditNote) else f"inv_{document.pk}"


def _document_json(request, document, query: str) -> dict:
    document_id = _document_id(document)
    return {
        "id": document_id,
        "type": "credit_note" if isinstance(document, CreditNote) else "invoice",
        "number": document.number,
        "date": document.issue_date.isoformat(),
        "net": money(document.net_cents, document.currency),
        "vat": money(document.vat_cents, document.currency),
        "gross": money(document.gross_cents, document.currency),
        "currency": document.currency,
        "status": invoice_selectors.document_status(document),
        "pdf_url": request.build_absolute_uri(reverse("api_v1:invoice_pdf", args=[document_id]) + query),
    }


def _document_key(values: list | None) -> invoice_selectors.DocumentKey | None:
    if values is None:
        return None
    try:
        moment, rank, pk = values
        issued_at = datetime.fromisoformat(moment)
    except (TypeError, ValueError):
        raise bad_cursor() from None
    valid_pk = isinstance(pk, int) and not isinstance(pk, bool) and 0 <= pk < 2**63
    if (
        issued_at.tzinfo is None
        or rank not in (invoice_selectors.INVOICE, invoice_selectors.CREDIT_NOTE)
        or not valid_pk
    ):
        raise bad_cursor()
    return issued_at, rank, pk


@api_endpoint("GET")
def invoices(request, caller: Caller):
    caller.require(client="invoices", agency="view")
    limit = query_limit(request)
    after = _document_key(cursor_load(request, salt=INVOICES_CURSOR))
    organization = _organization(request, caller)
    # An agency key downloads a client's document with the same organization_id it listed them with.
    query = f"?organization_id={organization.pk}" if organization is not None and caller.is_agency else ""
    documents, next_key = invoice_selectors.buyer_documents_page(
        agency=caller.agency, organization=organization, after=after, limit=limit
    )
    return JsonResponse(
        {
            "data": [_document_json(request, document, query) for document in documents],
            "has_more": next_key is not None,
            "next_cursor": (
                cursor_dump([next_key[0].isoformat(), next_key[1], next_key[2]], salt=INVOICES_CURSOR)
                if next_key
                else None
            ),
        }
    )


@api_endpoint("GET")
def invoice_pdf(request, caller: Caller, document_id: str):
    """The document's PDF, for the key that lists it; any other id is 404 document_not_found."""
    caller.require(client="invoices", agency="view")
    organization = _organization(request, caller)
    document = invoice_selectors.buyer_document(
        agency=caller.agency, organization=organization, document_id=document_id
    )
    if document is None:
        raise ApiError(404, "document_not_found", "No such invoice or credit note for this API key.")
    invoice = document.invoice if isinstance(document, CreditNote) else document
    # The platform's documents to an agency carry the platform's name; an agency's to its client, the agency's brand.
    if invoice.sold_by_platform:
        brand, logo = settings.PLATFORM_NAME, None
    else:
        brand, logo = caller.agency.company_name, logo_fetch(caller.agency.logo_url)
    if isinstance(document, CreditNote):
        content = invoice_pdfs.credit_note_pdf(document, brand=brand, logo=logo)
    else:
        content = invoice_pdfs.invoice_pdf(document, brand=brand, logo=logo)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.number}.pdf"'
    response["Cache-Control"] = "no-store"
    return response

"""The /api/v1/ endpoints: account, balance, usage (list and sync), call authorization."""

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone

from . import selectors
from .api import ApiError, Caller, api_endpoint, int_field, json_body, organization_for, query_int
from .api_params import MAX_RANGE_DAYS, query_date as _query_date, timestamp as _timestamp
from .ingest import APPLIED, CONFLICT, DUPLICATE, MAX_BATCH, REJECTED, usage_ingest
from .reservations import (
    INSUFFICIENT_MESSAGE,
    PROVIDER_EXHAUSTED_MESSAGE,
    InsufficientCredits,
    OrganizationSuspended,
    ProviderMinutesExhausted,
    call_authorize,
)

PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000


@api_endpoint("GET")
def account(request, caller: Caller):
    if caller.is_agency:
        agency = caller.agency
        return JsonResponse(
            {
                "id": agency.pk,
                "company_name": agency.company_name,
                "minutes_balance": agency.minutes_balance,
                "monthly_usage_minutes": selectors.monthly_usage_minutes(agency=agency),
            }
        )
    organization = caller.organization
    assert organization is not None  # a key that is not an agency's is a client's
    return JsonResponse(
        {
            "id": organization.pk,
            "company_name": organization.name,
            "minutes_balance": organization.credits_balance,
            "monthly_usage_minutes": selectors.monthly_usage_minutes(organization=organization),
        }
    )


@api_endpoint("GET")
def balance(request, caller: Caller):
    """A client key: its credits. An agency key: its minutes, or a client's credits with ?organization_id=."""
    organization = organization_for(caller, query_int(request, "organization_id"), required=False)
    if organization is None:
        return JsonResponse(selectors.agency_balance(agency=caller.agency).as_json())
    return JsonResponse(selectors.organization_balance(organization=organization).as_json())


@api_endpoint("GET", "POST")
def usage(request, caller: Caller):
    if request.method == "POST":
        return _usage_sync(request, caller)
    return _usage_list(request, caller)


def _usage_list(request, caller: Caller):
    end = _query_date(request, "end_date") or timezone.now().date()
    start = _query_date(request, "start_date") or end.replace(day=1)
    if start > end:
        raise ApiError(400, "invalid_date_range", "start_date must not be after end_date.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ApiError(400, "invalid_date_range", f"A range covers at most {MAX_RANGE_DAYS} days.")
    limit = query_int(request, "limit", default=PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    organization = organization_for(caller, query_int(request, "organization_id"), required=False)

    records = selectors.usage_in_range(agency_id=caller.agency_id, organization=organization, start=start, end=end)
    try:
        page, next_cursor = selectors.usage_page(records, cursor=request.GET.get("cursor"), limit=limit)
    except selectors.BadCursor as problem:
        raise ApiError(400, "invalid_cursor", str(problem)) from None
    totals = selectors.usage_totals(agency_id=caller.agency_id, organization=organization, start=start, end=end)
    # An agency pays the platform price per minute; a client pays for its credits.
    price: selectors.MinutePrice | None
    if caller.is_agency:
        price = selectors.platform_minute_price()
    else:
        price = selectors.client_credit_price(agency_id=caller.agency_id)
    return JsonResponse(
        {
            "usage": [
                # The seed's four fields, plus what a pull sync needs to charge the call again
                # elsewhere (so one portal can pull from another's API).
                {
                    "id": r.record_id,
                    "duration_sec": r.duration_sec,
                    "created_at": _timestamp(r.created_at),
                    "number_id": r.number_id,
                    "organization_id": r.organization_id,
                    "direction": r.direction,
                }
                for r in page
            ],
            "summary": {
                "total_seconds": totals.seconds,
                "total_minutes": totals.minutes,
                "total_cost": price.cost(totals.minutes) if price else None,
                "currency": price.currency if price else None,
            },
            "next_cursor": next_cursor,
        }
    )


def _usage_sync(request, caller: Caller):
    if not caller.is_agency:
        raise ApiError(403, "agency_key_required", "Only an agency's API key can report usage.")
    body = json_body(request)
    if isinstance(body, dict) and "records" in body:
        records = body["records"]
        if not isinstance(records, list) or not records:
            raise ApiError(400, "invalid_batch", "records must be a non-empty list of usage records.")
        if len(records) > MAX_BATCH:
            raise ApiError(
                400, "batch_too_large", f"A batch holds at most {MAX_BATCH} records; send the rest in another."
            )
        outcomes = usage_ingest(agency_id=caller.agency_id, records=records)
        counts = dict.fromkeys((APPLIED, DUPLICATE, CONFLICT, REJECTED), 0)
        for outcome in outcomes:
            counts[outcome.status] += 1
        return JsonResponse({"results": [o.as_json() for o in outcomes], "counts": counts})
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_batch", 'Send one usage record, or {"records": [...]} for a batch.')

    # One record: its outcome is the answer's status.
    outcome = usage_ingest(agency_id=caller.agency_id, records=[body])[0]
    if outcome.status == CONFLICT:
        raise ApiError(409, outcome.code or "conflict", outcome.reason or "")
    if outcome.status == REJECTED:
        raise ApiError(
            404 if outcome.code == "unknown_organization" else 400,
            outcome.code or "invalid_record",
            outcome.reason or "",
        )
    data = outcome.as_json()
    del data["index"]
    return JsonResponse(data, status=201 if outcome.status == APPLIED else 200)


@api_endpoint("POST")
def authorize(request, caller: Caller):
    body = json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object with organization_id and max_minutes.")
    organization = organization_for(caller, body.get("organization_id"), required=True)
    assert organization is not None  # required=True answers 400 instead of None
    max_minutes = int_field(body.get("max_minutes"), "max_minutes", maximum=settings.RESERVATION_MAX_MINUTES)
    try:
        reservation = call_authorize(organization=organization, max_minutes=max_minutes)
    except ProviderMinutesExhausted:
        raise ApiError(402, "provider_minutes_exhausted", PROVIDER_EXHAUSTED_MESSAGE) from None
    except InsufficientCredits:
        raise ApiError(402, "insufficient_credits", INSUFFICIENT_MESSAGE) from None
    except OrganizationSuspended as suspended:
        raise ApiError(402, "organization_suspended", str(suspended)) from None
    return JsonResponse(
        {
            "id": str(reservation.pk),
            "organization_id": organization.pk,
            "reserved_minutes": reservation.minutes,
            "expires_at": _timestamp(reservation.expires_at),
        },
        status=201,
    )

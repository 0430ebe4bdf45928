"""Reading one page of an upstream usage API: GET {base}/api/v1/usage, the shape of our own endpoint.

    GET {base}/api/v1/usage?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD&limit=1000[&cursor=…]
    Authorization: Bearer <key>
    200 {"usage": [record, …], "next_cursor": "…" | null, …}

Each record is what POST /api/v1/usage takes (id, organization_id,
duration_sec, created_at, number_id, direction, reservation_id?); records are
checked one by one by the ingest, not here. Anything that is not such a page
(an HTTP error, a timeout, something that is not JSON, no "usage" list, a
cursor that is not a string) raises UpstreamError and nothing of it is used.
"""

import json
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.conf import settings

from core import outbound

PAGE_LIMIT = 1000  # what one ingest call takes
MAX_PAGE_BYTES = 16 * 1024 * 1024


class UpstreamError(Exception):
    """This page cannot be used now; the message is safe to show (never the key)."""


@dataclass(frozen=True)
class Page:
    records: list
    next_cursor: str | None


def usage_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/v1/usage"


def usage_page_fetch(*, base_url: str, api_key: str, start: date, end: date, cursor: str | None) -> Page:
    query = {"start_date": start.isoformat(), "end_date": end.isoformat(), "limit": PAGE_LIMIT}
    if cursor:
        query["cursor"] = cursor
    try:
        answer = outbound.request(
            "GET",
            f"{usage_url(base_url)}?{urlencode(query)}",
            timeout=settings.USAGE_PULL_TIMEOUT_SECONDS,
            max_bytes=MAX_PAGE_BYTES,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        )
    except outbound.OutboundError as error:
        raise UpstreamError(f"The usage API could not be reached: {str(error).rstrip('.')}.") from None
    if answer.status in (401, 403):
        raise UpstreamError(f"The usage API refused the key (HTTP {answer.status}). Check the API key.")
    if answer.status != 200:
        raise UpstreamError(f"The usage API answered HTTP {answer.status}.")
    return page_parse(answer.body)


def page_parse(body: bytes) -> Page:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UpstreamError("The usage API answered something that is not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("usage"), list):
        raise UpstreamError('The usage API answered JSON without a "usage" list.')
    cursor = data.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 2000):
        raise UpstreamError('The usage API answered a "next_cursor" that is not a cursor string.')
    if len(data["usage"]) > PAGE_LIMIT:
        raise UpstreamError(f"The usage API answered more than {PAGE_LIMIT:,} records in one page.")
    return Page(records=data["usage"], next_cursor=cursor or None)

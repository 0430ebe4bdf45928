"""Pull sync: fetch call records from an upstream usage API and charge them like pushed ones.

Every page goes through usage.ingest.usage_ingest, the function behind
POST /api/v1/usage, so a record is charged once whether it was pushed,
pulled, or both, and pulling a page again changes nothing (its records come
back as duplicates).

One run of a source, in the task worker:

1. claim the source with one conditional UPDATE (enabled and due, then
   pushed into the future), so two workers never pull the same source at once;
2. pull the window from `synced_through - USAGE_PULL_LOOKBACK_DAYS` (the
   high-water mark, less a margin for calls reported late) or `start_date`,
   to today (UTC), at most MAX_WINDOW_DAYS at a time, page by page (cursor);
3. apply each page as it arrives, each in its own transaction;
4. on success move the high-water mark to the window's end and come back in
   USAGE_PULL_INTERVAL_SECONDS (at once while catching up); on any failure
   (HTTP error, timeout, a page that is not a usage page) keep the mark,
   record the error and come back after an exponential backoff. Pages applied
   before the failure stay applied; the retry pulls the whole window again,
   so nothing is lost and nothing is charged twice.

A record the ingest refuses (malformed, not a client of the agency, the same
id with other content) is kept in PullRejection with its reason, and the run
goes on: pulling it again would not change the answer.
"""

import hashlib
import json
import logging
from collections import Counter
from datetime import UTC, date, timedelta
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agencies.models import Organization
from usage.ingest import CONFLICT, REJECTED, Outcome, usage_ingest
from usage.records import Rejected, record_check, text_shown

from .deliveries import retry_delay
from .models import PullRejection, UsageSource
from .upstream import UpstreamError, usage_page_fetch

logger = logging.getLogger(__name__)
MAX_WINDOW_DAYS = 31
MAX_PAGES = 500  # per run: 500,000 records; a longer listing is caught up over several runs


def pull_window(source: UsageSource, *, today: date) -> tuple[date, date]:
    """The days this run pulls: from the high-water mark less the lookback (or start_date) to today."""
    if source.synced_through is not None:
        start = source.synced_through - timedelta(days=settings.USAGE_PULL_LOOKBACK_DAYS)
    else:
        start = source.start_date
    start = min(start, today)
    return start, min(today, start + timedelta(days=MAX_WINDOW_DAYS - 1))


def claim_seconds() -> int:
    """How long one run may hold its source: every page may take the whole timeout, twice over."""
    return settings.USAGE_PULL_TIMEOUT_SECONDS * 20 + 300


def source_pull(*, source_id: int) -> dict | None:
    """Run one pull of a source if it is enabled and due. Returns the outcome counts, or None if not run."""
    now = timezone.now()
    claimed = UsageSource.objects.filter(pk=source_id, enabled=True, next_attempt_at__lte=now).update(
        next_attempt_at=now + timedelta(seconds=claim_seconds()),
        last_attempt_at=now,
    )
    if not claimed:
        return None
    source = UsageSource.objects.get(pk=source_id)
    today = now.astimezone(UTC).date()
    start, end = pull_window(source, today=today)
    counts: Counter = Counter()
    try:
        _pull(source, start, end, counts)
    except UpstreamError as error:
        _failed(source, str(error))
        return None
    except Exception:
        logger.exception("Pull of usage source %s failed", source.pk)
        _failed(source, "An internal error stopped the sync; it is retried.")
        return None
    caught_up = end >= today
    UsageSource.objects.filter(pk=source.pk).update(
        synced_through=max(end, source.synced_through or end),
        failures=0,
        last_success_at=timezone.now(),
        last_counts=dict(counts),
        next_attempt_at=timezone.now() + timedelta(seconds=settings.USAGE_PULL_INTERVAL_SECONDS if caught_up else 0),
    )
    logger.info("Pulled usage source %s (%s to %s): %s", source.pk, start, end, dict(counts))
    return dict(counts)


def _failed(source: UsageSource, message: str) -> None:
    failures = source.failures + 1
    UsageSource.objects.filter(pk=source.pk).update(
        failures=failures,
        last_error=message[:500],
        last_error_at=timezone.now(),
        next_attempt_at=timezone.now() + retry_delay(failures),
    )
    logger.warning("Pull of usage source %s failed (%s in a row): %s", source.pk, failures, message)


def _pull(source: UsageSource, start: date, end: date, counts: Counter) -> None:
    cursor, seen = None, set()
    for _ in range(MAX_PAGES):
        page = usage_page_fetch(base_url=source.base_url, api_key=source.api_key, start=start, end=end, cursor=cursor)
        counts["pages"] += 1
        if page.records:
            _apply(source, page.records, counts)
        if page.next_cursor is None:
            return
        if page.next_cursor in seen:
            raise UpstreamError("The usage API sent the same cursor twice: its pages go round in a loop.")
        seen.add(page.next_cursor)
        cursor = page.next_cursor
    raise UpstreamError(f"More than {MAX_PAGES} pages in one run; the rest is pulled on the next run.")


def _apply(source: UsageSource, records: list, counts: Counter) -> None:
    if source.agency_id is not None:
        outcomes = usage_ingest(agency_id=source.agency_id, records=records)
    else:
        outcomes = _apply_across_agencies(records)
    for raw, outcome in zip(records, outcomes):
        counts[outcome.status] += 1
        if outcome.status in (REJECTED, CONFLICT):
            _rejection_note(source, raw, outcome)


def _apply_across_agencies(records: list) -> list[Outcome]:
    """A platform-wide source: each record goes to the agency of its organization."""
    now = timezone.now()
    outcomes: list[Outcome | None] = [None] * len(records)
    wanted = {}
    for index, raw in enumerate(records):
        checked = record_check(index, raw, now)
        if isinstance(checked, Rejected):
            outcomes[index] = Outcome(index, checked.record_id, REJECTED, code=checked.code, reason=checked.reason)
        else:
            wanted[index] = checked.organization_id
    agencies = dict(Organization.objects.filter(pk__in=set(wanted.values())).values_list("pk", "agency_id"))
    groups: dict[int, list[int]] = {}
    for index, organization_id in wanted.items():
        if organization_id in agencies:
            groups.setdefault(agencies[organization_id], []).append(index)
        else:
            outcomes[index] = Outcome(
                index,
                records[index].get("id"),
                REJECTED,
                code="unknown_organization",
                reason=f"organization_id {organization_id} is not a client of any agency",
            )
    for agency_id, indexes in groups.items():
        for index, outcome in zip(indexes, usage_ingest(agency_id=agency_id, records=[records[i] for i in indexes])):
            outcomes[index] = outcome
    return cast(list[Outcome], outcomes)  # every index holds an outcome by now


def _fingerprint(raw) -> str:
    try:
        text = json.dumps(raw, sort_keys=True, default=str)  # ensure_ascii: a lone surrogate comes out escaped
    except (ValueError, TypeError, RecursionError):  # keys of mixed types, or nested past what dumps can walk
        text = repr(raw)
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def _rejection_note(source: UsageSource, raw, outcome: Outcome) -> None:
    fingerprint = _fingerprint(raw)
    # The record's id and the reason as they can be stored: no NUL, no lone surrogate (see usage.records).
    fields = {
        "code": (outcome.code or outcome.status)[:40],
        "reason": text_shown(outcome.reason or "")[:300],
        "last_seen_at": timezone.now(),
    }
    if PullRejection.objects.filter(source=source, fingerprint=fingerprint).update(times=F("times") + 1, **fields):
        return
    try:
        with transaction.atomic():
            PullRejection.objects.create(
                source=source,
                fingerprint=fingerprint,
                record_id=text_shown(str(outcome.record_id or ""))[:100],
                **fields,
            )
    except IntegrityError:  # noted meanwhile by another run of the same record
        pass

"""Pull sync against a stand-in upstream usage API over real HTTP: records charged once however
they arrive; errors, timeouts and malformed pages retried later with backoff, nothing lost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.models import Agency, Organization
from billing.models import LedgerEntry
from ops.models import PullRejection, UsageSource
from ops.pull import source_pull
from tests.conftest import NOON, credits_add, minutes_add
from tests.ops.conftest import call
from usage.ingest import usage_ingest
from usage.models import UsageRecord

# Pulls ask for whole UTC days (start date, high-water mark, lookback) and calls are placed "n days ago".
pytestmark = pytest.mark.now(NOON)


@pytest.fixture
def source(agency, upstream):
    return UsageSource.objects.create(
        agency=agency, base_url=upstream.url, api_key=upstream.key, start_date=timezone.now().date() - timedelta(days=3)
    )


def run(source) -> dict | None:
    """One run of the pull, as the worker does it, once the source is due."""
    UsageSource.objects.filter(pk=source.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    result = source_pull(source_id=source.pk)
    source.refresh_from_db()
    return result


def balances(org, agency):
    return (Organization.objects.get(pk=org.pk).credits_balance, Agency.objects.get(pk=agency.pk).minutes_balance)


def test_pulled_records_are_charged_page_by_page_and_the_high_water_mark_moves(source, upstream, org, agency):
    upstream.records = [call(org, minutes=2), call(org, minutes=3, days_ago=1), call(org, minutes=4, days_ago=2)]
    upstream.page_size = 2

    result = run(source)

    assert result == {"pages": 2, "applied": 3}
    assert balances(org, agency) == (100 - 9, 10_000 - 9)
    today = timezone.now().date()
    assert source.synced_through == today and source.failures == 0 and source.last_success_at is not None
    first, second = upstream.pulls()
    assert first["headers"]["Authorization"] == f"Bearer {upstream.key}"
    assert (first["query"]["start_date"], first["query"]["end_date"]) == (str(today - timedelta(days=3)), str(today))
    assert "cursor" not in first["query"] and second["query"]["cursor"] == "2"
    assert source.next_attempt_at > timezone.now() + timedelta(seconds=250)


def test_running_again_changes_nothing_and_pulls_from_the_high_water_mark(source, upstream, org, agency):
    upstream.records = [call(org, minutes=5)]
    run(source)
    charged, entries = balances(org, agency), LedgerEntry.objects.count()

    assert run(source) == {"pages": 1, "duplicate": 1}

    assert balances(org, agency) == charged and LedgerEntry.objects.count() == entries
    today = timezone.now().date()
    assert upstream.pulls()[-1]["query"]["start_date"] == str(today - timedelta(days=1))  # lookback of one day


def test_a_page_served_twice_charges_its_records_once(source, upstream, org, agency):
    upstream.records = [call(org, minutes=1) for _ in range(3)]
    upstream.page_size, upstream.repeat_first_page = 2, True

    assert run(source) == {"pages": 3, "applied": 3, "duplicate": 2}
    assert balances(org, agency) == (97, 9_997)
    assert UsageRecord.objects.count() == 3


def test_a_record_pushed_and_pulled_is_charged_once_either_way(source, upstream, org, agency):
    pushed_first, pulled_first = call(org, minutes=4), call(org, minutes=6)
    assert usage_ingest(agency_id=agency.pk, records=[pushed_first])[0].status == "applied"
    upstream.records = [pushed_first, pulled_first]

    assert run(source) == {"pages": 1, "applied": 1, "duplicate": 1}
    assert usage_ingest(agency_id=agency.pk, records=[pulled_first])[0].status == "duplicate"
    assert balances(org, agency) == (90, 9_990)


def test_an_upstream_500_is_recorded_retried_with_backoff_and_then_nothing_is_lost(source, upstream, org, agency):
    upstream.records = [call(org, minutes=3)]
    upstream.script = [500]

    assert run(source) is None

    assert source.last_error == "The usage API answered HTTP 500."
    assert (source.failures, source.synced_through, source.last_success_at) == (1, None, None)
    assert timedelta(seconds=25) < source.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    assert balances(org, agency) == (100, 10_000)
    assert source_pull(source_id=source.pk) is None  # not due while backing off: nothing asked upstream
    assert len(upstream.pulls()) == 1

    assert run(source) == {"pages": 1, "applied": 1}
    assert source.failures == 0 and source.last_error_at is not None  # the last error stays visible
    assert balances(org, agency) == (97, 9_997)


def test_failures_in_a_row_back_off_longer(source, upstream):
    upstream.script = [500, 502]
    run(source)
    first = source.next_attempt_at - source.last_attempt_at
    run(source)
    second = source.next_attempt_at - source.last_attempt_at
    assert source.failures == 2
    assert timedelta(seconds=29) < first <= timedelta(seconds=31) and timedelta(seconds=59) < second <= timedelta(
        seconds=61
    )


def test_a_failure_on_a_later_page_keeps_what_was_applied_and_the_retry_completes(source, upstream, org, agency):
    upstream.records = [call(org, minutes=1) for _ in range(4)]
    upstream.page_size = 2
    upstream.script = [None, 503]

    assert run(source) is None
    assert balances(org, agency) == (98, 9_998)  # the first page stayed applied
    assert source.synced_through is None  # the mark did not move

    assert run(source) == {"pages": 2, "duplicate": 2, "applied": 2}
    assert balances(org, agency) == (96, 9_996)


def test_an_upstream_that_does_not_answer_in_time_is_retried(source, upstream, org, agency, settings):
    settings.USAGE_PULL_TIMEOUT_SECONDS = 1
    upstream.records = [call(org, minutes=2)]
    upstream.script = [("sleep", 1.5)]

    assert run(source) is None
    assert source.last_error == "The usage API could not be reached: no answer within 1 seconds."
    assert balances(org, agency) == (100, 10_000)

    assert run(source) == {"pages": 1, "applied": 1}


@pytest.mark.parametrize(
    "status, body, message",
    [
        (200, b"<html>maintenance</html>", "something that is not JSON"),
        (200, {"records": []}, 'without a "usage" list'),
        (200, {"usage": [], "next_cursor": 7}, "not a cursor string"),
        (401, {"error": {}}, "refused the key (HTTP 401)"),
    ],
)
def test_a_malformed_page_is_an_error_and_changes_nothing(source, upstream, org, agency, status, body, message):
    upstream.records = [call(org, minutes=2)]
    upstream.script = [(status, body)]
    assert run(source) is None
    assert message in source.last_error
    assert balances(org, agency) == (100, 10_000) and UsageRecord.objects.count() == 0


def test_malformed_records_are_refused_one_by_one_and_noted(source, upstream, org, agency, make_agency):
    stranger = make_agency()
    broken = call(org, minutes=1)
    del broken["duration_sec"]
    upstream.records = [
        call(org, minutes=2),
        broken,
        call(org, minutes=3, organization_id=999_999),
        call(org, minutes=4, direction="sideways"),
    ]

    assert run(source) == {"pages": 1, "applied": 1, "rejected": 3}
    assert run(source) == {"pages": 1, "duplicate": 1, "rejected": 3}

    assert balances(org, agency) == (98, 9_998)
    notes = {n.record_id: n for n in PullRejection.objects.filter(source=source)}
    assert notes[broken["id"]].reason == "duration_sec must be a whole number of seconds"
    assert notes[broken["id"]].times == 2
    assert {n.code for n in notes.values()} == {"invalid_record", "unknown_organization"}
    assert source.last_counts == {"pages": 1, "duplicate": 1, "rejected": 3}
    assert stranger.minutes_balance == 0


def test_a_platform_wide_source_charges_each_record_to_its_clients_agency(
    upstream, org, agency, make_agency, make_client_user
):
    other = make_agency(active=True)
    minutes_add(other, 500)
    other_org = make_client_user(other).organization
    credits_add(other_org, 50)
    UsageSource.objects.create(
        agency=None, name="Platform", base_url=upstream.url, api_key=upstream.key, start_date=timezone.now().date()
    )
    upstream.records = [call(org, minutes=2), call(other_org, minutes=5), call(org, minutes=1, organization_id=0)]

    source = UsageSource.objects.get(agency=None)
    assert run(source) == {"pages": 1, "applied": 2, "rejected": 1}
    assert balances(org, agency) == (98, 9_998)
    assert balances(other_org, other) == (45, 495)


def test_a_source_being_pulled_is_not_pulled_again_at_the_same_time(source, upstream):
    assert source_pull(source_id=source.pk) is not None
    # Claimed and then rescheduled: a second worker with the same task finds nothing due.
    assert source_pull(source_id=source.pk) is None
    assert len(upstream.pulls()) == 1


def test_in_production_a_loopback_upstream_is_refused_and_nothing_is_asked(source, upstream, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    assert run(source) is None
    assert source.last_error == "The usage API could not be reached: Enter an address on the public internet."
    assert upstream.pulls() == []


@pytest.mark.parametrize("field, bad", [("id", "call\x00nul"), ("id", "call\ud800"), ("number_id", "n\x00")])
def test_a_page_with_an_unstorable_record_notes_it_applies_the_rest_and_moves_on(
    source, upstream, org, agency, field, bad
):
    """Issue 10: a NUL or lone surrogate used to fail the page's transaction on PostgreSQL every run."""
    bad_record = call(org, minutes=7, **{field: bad})
    upstream.records = [call(org, minutes=1), bad_record, call(org, minutes=2)]

    assert run(source) == {"pages": 1, "applied": 2, "rejected": 1}
    assert balances(org, agency) == (97, 9_997)
    assert source.synced_through == timezone.now().date() and source.failures == 0
    [note] = PullRejection.objects.filter(source=source)
    assert note.code == "invalid_record" and field in note.reason
    # Noted as it can be stored: the unstorable character shown as U+FFFD.
    assert note.record_id == bad_record["id"].replace("\x00", "\ufffd").replace("\ud800", "\ufffd")

    assert run(source) == {"pages": 1, "duplicate": 2, "rejected": 1}  # the next run goes on the same way
    assert PullRejection.objects.get(source=source).times == 2


def test_a_page_nested_too_deeply_is_an_upstream_error_not_an_internal_one(source, upstream):
    upstream.script = [(200, b'{"usage": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")]
    assert run(source) is None
    assert source.failures == 1 and source.last_error == "The usage API answered something that is not JSON."

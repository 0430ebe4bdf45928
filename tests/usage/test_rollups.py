"""Daily usage rollups: the ingest keeps them equal to the calls, usage_check proves it, a rebuild restores it,
and every summary reads them instead of the calls."""

import io
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import Organization
from tests.conftest import credits_add, host, minutes_add
from tests.usage.conftest import Api, record
from usage import keys, rollups
from usage.ingest import usage_ingest
from usage.models import UsageAgencyDay, UsageDay, UsageDayNumber, UsageRecord

RAW = UsageRecord._meta.db_table


def _raw_sums() -> dict[tuple[int, date], tuple[int, int, int]]:
    """What the calls add up to per organization and UTC day, summed in Python from the rows themselves."""
    sums: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for org, at, seconds, minutes in UsageRecord.objects.values_list(
        "organization_id", "created_at", "duration_sec", "minutes"
    ):
        row = sums[(org, at.astimezone(UTC).date())]
        row[0] += 1
        row[1] += seconds
        row[2] += minutes
    return {key: (value[0], value[1], value[2]) for key, value in sums.items()}


def _rollup_sums() -> dict[tuple[int, date], tuple[int, int, int]]:
    return {
        (org, day): (calls, seconds, minutes)
        for org, day, calls, seconds, minutes in UsageDay.objects.values_list(
            "organization_id", "day", "calls", "seconds", "minutes"
        )
    }


def _statuses(outcomes) -> list[str]:
    return [o.status for o in outcomes]


@pytest.fixture
def world(make_agency, make_client_user):
    """Two agencies, three clients, money enough for every call."""
    first, second = make_agency(active=True), make_agency(active=True)
    minutes_add(first, 100_000)
    minutes_add(second, 100_000)
    orgs = [
        make_client_user(first, company_name="Alpha").organization,
        make_client_user(first, company_name="Beta").organization,
        make_client_user(second, company_name="Gamma").organization,
    ]
    for org in orgs:
        credits_add(org, 10_000)
    return first, second, orgs


@pytest.mark.now("2026-01-31T23:58:00Z")
def test_rollups_equal_the_calls_after_duplicates_conflicts_and_rejections_across_midnight_and_month_end(world):
    first, second, (alpha, beta, gamma) = world
    before, after = "2026-01-31T23:57:59.000Z", "2026-02-01T00:01:00.000Z"  # either side of UTC midnight
    outcomes = usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, id="a1", duration_sec=61, created_at=before),  # 2 minutes
            record(alpha, id="a2", duration_sec=60, created_at=after, number_id="n-2"),
            record(alpha, id="a1", duration_sec=61, created_at=before),  # repeat in the batch: duplicate
            record(alpha, id="a2", duration_sec=5, created_at=after),  # same id, other content: conflict
            record(beta, id="b1", duration_sec=0, created_at=before, direction="inbound"),  # free, still a call
            record(gamma, id="g-wrong-agency", duration_sec=30),  # not this agency's client: rejected
            record(alpha, id="bad", duration_sec=-1),  # malformed: rejected
        ],
    )
    assert _statuses(outcomes) == ["applied", "applied", "duplicate", "conflict", "applied", "rejected", "rejected"]
    again = usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, id="a1", duration_sec=61, created_at=before),  # duplicate of a stored call
            record(alpha, id="a3", duration_sec=121, created_at=before),  # 3 minutes
        ],
    )
    assert _statuses(again) == ["duplicate", "applied"]
    usage_ingest(agency_id=second.pk, records=[record(gamma, id="g1", duration_sec=600, created_at=after)])

    assert (
        _rollup_sums()
        == _raw_sums()
        == {
            (alpha.pk, date(2026, 1, 31)): (2, 182, 5),
            (alpha.pk, date(2026, 2, 1)): (1, 60, 1),
            (beta.pk, date(2026, 1, 31)): (1, 0, 0),
            (gamma.pk, date(2026, 2, 1)): (1, 600, 10),
        }
    )
    assert UsageDay.objects.get(organization=alpha, day=date(2026, 1, 31)).last_call_at == datetime(
        2026, 1, 31, 23, 57, 59, tzinfo=UTC
    )
    assert set(UsageDay.objects.values_list("organization_id", "agency_id")) == {
        (alpha.pk, first.pk),
        (beta.pk, first.pk),
        (gamma.pk, second.pk),
    }
    assert sorted(
        UsageDayNumber.objects.filter(organization=alpha).values_list(
            "day", "direction", "number_id", "calls", "minutes"
        )
    ) == [
        (date(2026, 1, 31), "outbound", "number-1", 2, 5),
        (date(2026, 2, 1), "outbound", "n-2", 1, 1),
    ]
    assert sorted(UsageAgencyDay.objects.values_list("agency_id", "day", "calls", "seconds", "minutes")) == [
        (first.pk, date(2026, 1, 31), 3, 182, 5),
        (first.pk, date(2026, 2, 1), 1, 60, 1),
        (second.pk, date(2026, 2, 1), 1, 600, 10),
    ]
    assert rollups.usage_rollups_check() == []


@pytest.mark.now("2026-01-31T23:58:00Z")
def test_the_month_summaries_split_at_the_utc_month_end(world):
    first, _, (alpha, _, _) = world
    usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, id="jan", duration_sec=120, created_at="2026-01-31T23:59:59.999Z"),
            record(alpha, id="feb", duration_sec=180, created_at="2026-02-01T00:00:00.000Z"),
        ],
    )
    key = keys.api_key_create(name="sync", agency=first).secret
    api = Api()
    january = api.get("billing/usage", key, month="2026-01", organization_id=alpha.pk).json()
    february = api.get("billing/usage", key, month="2026-02", organization_id=alpha.pk).json()
    assert (january["totals"]["minutes"], [d["date"] for d in january["days"]]) == (2, ["2026-01-31"])
    assert (february["totals"]["minutes"], [d["date"] for d in february["days"]]) == (3, ["2026-02-01"])


def test_usage_check_passes_on_clean_rollups_with_one_line(world):
    first, _, (alpha, _, _) = world
    usage_ingest(agency_id=first.pk, records=[record(alpha)])
    out = io.StringIO()
    call_command("usage_check", stdout=out)
    assert out.getvalue().strip().splitlines() == ["Usage check passed: every daily rollup equals the usage records."]


def test_usage_check_names_the_organization_and_day_of_a_tampered_missing_or_extra_rollup(
    world, usage_broken_on_purpose
):
    first, _, (alpha, beta, _) = world
    usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, id="x", created_at="2025-12-13T10:00:00Z"),
            record(beta, id="y", created_at="2025-12-14T10:00:00Z"),
        ],
    )
    UsageDay.objects.filter(organization=alpha).update(minutes=99)  # tampered
    UsageDay.objects.filter(organization=beta).delete()  # missing
    UsageDay.objects.create(  # a day without calls
        agency=first,
        organization=beta,
        day=date(2025, 11, 1),
        calls=1,
        seconds=1,
        minutes=1,
        last_call_at=datetime(2025, 11, 1, tzinfo=UTC),
    )
    UsageDayNumber.objects.filter(organization=alpha).update(calls=7)
    UsageAgencyDay.objects.filter(agency=first, day=date(2025, 12, 13)).update(seconds=1)

    with pytest.raises(CommandError) as failed:
        call_command("usage_check", stdout=io.StringIO())
    message = str(failed.value)
    assert f"organization {alpha.pk}, day 2025-12-13: raw rows 1 calls, 84 s, 2 min" in message
    assert "rollup 1 calls, 84 s, 99 min" in message
    assert f"organization {beta.pk}, day 2025-12-14: raw rows 1 calls, 84 s, 2 min" in message
    assert f"organization {beta.pk}, day 2025-11-01: raw rows none, rollup 1 calls, 1 s, 1 min" in message
    assert f"organization {alpha.pk}, day 2025-12-13, outbound number-1: raw rows 1 calls, 84 s, 2 min" in message
    assert "rollup none" in message  # beta's missing day
    assert f"agency {first.pk}, day 2025-12-13: raw rows 1 calls, 84 s, 2 min, rollup 1 calls, 1 s, 2 min" in message


def test_rebuild_for_a_range_and_an_organization_fixes_only_that(world, usage_broken_on_purpose):
    first, _, (alpha, beta, _) = world
    usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, id="d1", created_at="2025-12-01T10:00:00Z"),
            record(alpha, id="d2", created_at="2025-12-02T10:00:00Z"),
            record(beta, id="d3", created_at="2025-12-01T10:00:00Z"),
        ],
    )
    UsageDay.objects.update(calls=50)
    UsageDayNumber.objects.update(minutes=50)
    UsageAgencyDay.objects.update(seconds=50)

    out = io.StringIO()
    call_command(
        "usage_rollup_rebuild",
        "--from",
        "2025-12-01",
        "--to",
        "2025-12-01",
        "--organization",
        str(alpha.pk),
        stdout=out,
    )
    assert "1 organization(s)" in out.getvalue()
    assert {(m.table, m.owner, m.day) for m in rollups.usage_rollups_check()} == {
        ("day", f"organization {alpha.pk}", "2025-12-02"),
        ("day", f"organization {beta.pk}", "2025-12-01"),
        ("number", f"organization {alpha.pk}", "2025-12-02"),
        ("number", f"organization {beta.pk}", "2025-12-01"),
        ("agency", f"agency {first.pk}", "2025-12-02"),  # the agency's day on 2025-12-01 is rebuilt from raw rows
    }

    call_command("usage_rollup_rebuild", stdout=io.StringIO())
    assert rollups.usage_rollups_check() == []
    assert _rollup_sums() == _raw_sums()


def test_rebuild_refuses_bad_arguments(world):
    with pytest.raises(CommandError, match="not a date"):
        call_command("usage_rollup_rebuild", "--from", "2025-13-01")
    with pytest.raises(CommandError, match="must not be after"):
        call_command("usage_rollup_rebuild", "--from", "2025-12-02", "--to", "2025-12-01")
    with pytest.raises(CommandError, match="No organization"):
        call_command("usage_rollup_rebuild", "--organization", "999999")


def test_the_migration_builds_rollups_from_calls_already_stored(world):
    from importlib import import_module

    from django.apps import apps

    first, second, (alpha, beta, gamma) = world
    usage_ingest(
        agency_id=first.pk, records=[record(alpha), record(alpha, created_at="2025-12-14T10:00:00Z"), record(beta)]
    )
    usage_ingest(agency_id=second.pk, records=[record(gamma, direction="inbound")])
    expected = _rollup_sums()
    UsageDay.objects.all().delete()
    UsageDayNumber.objects.all().delete()
    UsageAgencyDay.objects.all().delete()

    import_module("usage.migrations.0004_rollups_build").build(apps, None)

    assert _rollup_sums() == expected == _raw_sums()
    assert rollups.usage_rollups_check() == []


def test_usage_data_check_repair_moves_the_rollups_with_the_calls(world):
    first, _, (alpha, _, _) = world
    usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, id="old", created_at="2025-12-13T10:00:00Z"),
            record(alpha, id="kept", created_at="2025-12-13T11:00:00Z"),
        ],
    )
    # Stored before created_at was bounded (here 1999, which SQLite and PostgreSQL both keep), and rolled up
    # as the migration would have.
    UsageRecord.objects.filter(record_id="old").update(created_at=datetime(1999, 6, 1, tzinfo=UTC))
    rollups.usage_rollups_rebuild(organization_id=alpha.pk)
    assert UsageDay.objects.filter(organization=alpha, day=date(1999, 6, 1)).exists()

    call_command("usage_data_check", "--repair", stdout=io.StringIO())

    received = UsageRecord.objects.get(record_id="old").received_at.astimezone(UTC).date()
    assert not UsageDay.objects.filter(organization=alpha, day=date(1999, 6, 1)).exists()
    assert UsageDay.objects.filter(organization=alpha, day=received).exists()
    assert rollups.usage_rollups_check() == []
    assert _rollup_sums() == _raw_sums()


# --- Summaries read the rollups, never the calls ----------------------------------------------------------


def _reads_of_calls(queries) -> list[str]:
    return [q["sql"] for q in queries if RAW in q["sql"]]


@pytest.mark.now("2026-05-13T12:00:00Z")
def test_no_summary_reads_the_calls(world, client, usage_broken_on_purpose):
    first, _, (alpha, beta, _) = world
    usage_ingest(
        agency_id=first.pk,
        records=[
            record(org, created_at=f"2026-05-{day:02d}T10:00:00Z") for org in (alpha, beta) for day in (1, 12, 13)
        ],
    )
    agency_key = keys.api_key_create(name="sync", agency=first).secret
    client_key = keys.api_key_create(name="app", organization=alpha).secret
    api = Api()
    summaries = [
        ("account", agency_key, {}),
        ("account", client_key, {}),
        ("billing/usage", agency_key, {"month": "2026-05"}),
        ("billing/usage", client_key, {"month": "2026-05"}),
        *[
            ("billing/usage/detailed", agency_key, {"group_by": g})
            for g in ("day", "number", "direction", "organization")
        ],
        ("billing/usage/detailed", client_key, {"group_by": "number"}),
    ]
    for path, key, params in summaries:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(path, key, **params)
        assert response.status_code == 200, (path, response.content)
        assert _reads_of_calls(queries) == [], path

    client.force_login(first.admin)
    for page in ("/console/", "/console/ops/business/", f"/console/ops/clients/{alpha.pk}/"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page, HTTP_HOST="localhost").status_code == 200, page
        assert _reads_of_calls(queries) == [], page

    client.force_login(alpha.members.get())
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/billing/", HTTP_HOST=host(first)).status_code == 200
    assert _reads_of_calls(queries) == []

    # Listings read the calls once, a page of them by index; their sums and counts come from the rollups.
    for path in ("/usage/", "/usage/report/", "/"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path, HTTP_HOST=host(first)).status_code == 200, path
        reads = _reads_of_calls(queries)
        assert len(reads) == 1 and "LIMIT" in reads[0] and "COUNT(" not in reads[0] and "SUM(" not in reads[0], path
    with CaptureQueriesContext(connection) as queries:
        listing = api.get("usage", agency_key, start_date="2026-05-01", end_date="2026-05-13")
    assert listing.json()["summary"]["total_minutes"] == 12
    reads = _reads_of_calls(queries)
    assert len(reads) == 1 and "LIMIT" in reads[0] and "SUM(" not in reads[0]


@pytest.mark.now("2026-05-13T12:00:00Z")
def test_the_summaries_give_what_the_calls_add_up_to(world):
    first, _, (alpha, beta, _) = world
    usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, duration_sec=61, created_at="2026-04-30T23:59:00Z"),  # last month
            record(alpha, duration_sec=61, created_at="2026-05-01T00:00:00Z", number_id="n-a"),
            record(alpha, duration_sec=30, created_at="2026-05-12T09:00:00Z", direction="inbound"),
            record(beta, duration_sec=600, created_at="2026-05-13T11:00:00Z"),
        ],
    )
    key = keys.api_key_create(name="sync", agency=first).secret
    api = Api()
    assert api.get("account", key).json()["monthly_usage_minutes"] == 2 + 1 + 10
    detailed = api.get(
        "billing/usage/detailed", key, **{"from": "2026-04-30", "to": "2026-05-13", "group_by": "direction"}
    ).json()
    assert [(g["key"], g["calls"], g["seconds"], g["minutes"]) for g in detailed["groups"]] == [
        ("inbound", 1, 30, 1),
        ("outbound", 3, 722, 14),
    ]
    by_number = api.get(
        "billing/usage/detailed", key, **{"from": "2026-05-01", "to": "2026-05-13", "group_by": "number"}
    ).json()
    assert [(g["key"], g["calls"], g["minutes"]) for g in by_number["groups"]] == [("n-a", 1, 2), ("number-1", 2, 11)]
    by_client = api.get(
        "billing/usage/detailed", key, **{"from": "2026-05-01", "to": "2026-05-13", "group_by": "organization"}
    ).json()
    assert [(g["name"], g["minutes"]) for g in by_client["groups"]] == [("Alpha", 3), ("Beta", 10)]
    listing = api.get("usage", key, start_date="2026-05-01", end_date="2026-05-13", organization_id=alpha.pk).json()
    assert listing["summary"]["total_seconds"] == 91 and listing["summary"]["total_minutes"] == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_for_one_client_leave_the_rollups_exact(make_agency, make_client_user):
    from tests.usage.test_concurrency import in_threads

    agency = make_agency(active=True)
    minutes_add(agency, 100_000)
    org = make_client_user(agency, company_name="Busy").organization
    credits_add(org, 100_000)
    key = keys.api_key_create(name="sync", agency=agency).secret
    # 8 threads, 6 batches each, overlapping ids (duplicates across threads), two days and three numbers.
    pool = [
        record(
            org,
            id=f"c{n}",
            duration_sec=30 + n,
            created_at=f"2025-12-{13 + n % 2}T{n % 24:02d}:00:00Z",
            number_id=f"n{n % 3}",
        )
        for n in range(120)
    ]

    def sync(t):
        api = Api()
        return [
            api.post("usage", {"records": pool[(t * 7 + b * 11) % 100 : (t * 7 + b * 11) % 100 + 20]}, key)
            for b in range(6)
        ]

    responses = [r for thread in in_threads(8, sync) for r in thread]
    assert {r.status_code for r in responses} == {200}
    assert rollups.usage_rollups_check() == []
    assert _rollup_sums() == _raw_sums()
    stored = UsageRecord.objects.filter(organization=org)
    assert sum(UsageDay.objects.filter(organization=org).values_list("calls", flat=True)) == stored.count()
    assert Organization.objects.get(pk=org.pk).credits_balance == 100_000 - sum(
        stored.values_list("minutes", flat=True)
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rebuilds_running_beside_ingests_leave_the_rollups_exact(make_agency, make_client_user):
    from tests.usage.test_concurrency import in_threads

    agency = make_agency(active=True)
    minutes_add(agency, 100_000)
    org = make_client_user(agency, company_name="Busy").organization
    credits_add(org, 100_000)
    key = keys.api_key_create(name="sync", agency=agency).secret

    def work(t):
        if t % 2:  # a rebuild holds the agency lock from its DELETE to its INSERT: no ingest lands between
            return [rollups.usage_rollups_rebuild(organization_id=org.pk) for _ in range(5)]
        api = Api()
        batches = [[record(org, id=f"t{t}-{b}-{n}", duration_sec=10 * n) for n in range(10)] for b in range(5)]
        return [api.post("usage", {"records": batch}, key).status_code for batch in batches]

    results = in_threads(6, work)
    assert [codes for t, codes in enumerate(results) if t % 2 == 0] == [[200] * 5] * 3
    assert UsageRecord.objects.count() == 150
    assert rollups.usage_rollups_check() == []
    assert UsageDay.objects.get(organization=org).calls == 150


@pytest.mark.now("2026-05-13T12:00:00Z")
def test_recent_daily_use_counts_the_last_14_utc_days_today_included(world):
    from usage import history, selectors

    first, _, (alpha, _, _) = world
    usage_ingest(
        agency_id=first.pk,
        records=[
            record(alpha, duration_sec=600, created_at="2026-04-29T23:59:00Z"),  # 15th day back: outside
            record(alpha, duration_sec=840, created_at="2026-04-30T00:00:00Z"),  # 14th day back: 14 minutes
            record(alpha, duration_sec=1260, created_at="2026-05-13T11:00:00Z"),  # today: 21 minutes
        ],
    )
    assert history.daily_rate(organization=alpha, days=14) == (14 + 21) / 14
    first.refresh_from_db()
    assert selectors.minutes_coverage(agency=first).daily_minutes == 3  # 35 / 14, rounded up

"""Issue 10: no input answers 500, and one bad record never blocks the rest of its batch.

The NUL and surrogate cases only ever failed on PostgreSQL (which refuses NUL in text; psycopg cannot
encode a lone surrogate); these tests run in both passes of .ci/run, so they are checked there.
"""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.conftest import host
from tests.usage.conftest import record, snapshot
from usage.ingest import usage_ingest
from usage.models import UsageRecord
from usage.rollups import usage_rollups_rebuild

UNSTORABLE = ["\x00", "\ud800", "\udfff", "a\x00b", "tab\there", "\x7f", "\x9f"]


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def post_raw(api, path, text, key):
    """POST a body exactly as written: json.dumps keeps lone surrogates as \\udXXX escapes, as a platform may."""
    return api.post(path, text, key, raw=True)


# --- 1. NUL, control characters and lone surrogates in the record's text fields ---------------------


@pytest.mark.parametrize("field", ["id", "number_id"])
@pytest.mark.parametrize("bad", UNSTORABLE)
def test_a_batch_rejects_only_the_record_with_unstorable_text_and_applies_the_rest(
    api, agency, org, agency_key, field, bad
):
    good_before, bad_one, good_after = record(org, id="good-1"), record(org, **{field: bad}), record(org, id="good-2")
    if field == "number_id":
        bad_one["id"] = "bad-number"
    body = json.dumps({"records": [good_before, bad_one, good_after]})

    response = post_raw(api, "usage", body, agency_key)

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["code"] == "invalid_record" and field in results[1]["reason"]
    assert sorted(UsageRecord.objects.values_list("record_id", flat=True)) == ["good-1", "good-2"]
    org.refresh_from_db()
    assert org.credits_balance == 100 - 2 * 2


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_a_single_record_with_unstorable_text_is_a_400_and_changes_nothing(api, agency, org, agency_key, bad):
    before = snapshot()
    response = post_raw(api, "usage", json.dumps(record(org, id=f"call{bad}1")), agency_key)
    assert_error(response, 400, "invalid_record")
    assert "control characters or unpaired surrogates" in response.json()["error"]["message"]
    assert snapshot() == before
    # The retry gets the same answer: nothing half-stored makes it a 500 later.
    assert_error(post_raw(api, "usage", json.dumps(record(org, id=f"call{bad}1")), agency_key), 400, "invalid_record")


def test_ordinary_unicode_in_ids_is_still_accepted(api, agency, org, agency_key):
    response = api.post("usage", record(org, id="appel-é-📞-日本", number_id="número"), agency_key)
    assert response.status_code == 201, response.content
    assert UsageRecord.objects.get().record_id == "appel-é-📞-日本"


# --- 2. created_at: from 2000-01-01 UTC, real in UTC, never unloadable -------------------------------


@pytest.mark.parametrize(
    "created_at, reason",
    [
        ("0001-01-01T00:30:00+01:00", "not a real date and time"),  # year 0 in UTC
        ("9999-12-31T23:30:00-01:00", "not a real date and time"),  # year 10000 in UTC
        ("0001-01-01T00:00:00Z", "2000-01-01T00:00:00Z or later"),
        ("1999-12-31T23:59:59.999999Z", "2000-01-01T00:00:00Z or later"),
        ("2000-01-01T00:30:00+01:00", "2000-01-01T00:00:00Z or later"),  # 1999 in UTC
        ("9999-12-31T23:59:59Z", "in the future"),
        ("２０２５-12-13T10:00:00Z", "ISO 8601"),  # full-width digits
        ("2025-12-13T10:00:00Z\n", "ISO 8601"),
        ("2025-12-13T10:00:00+24:00", "not a real date and time"),
    ],
)
def test_created_at_out_of_range_is_rejected_with_a_reason(api, agency, org, agency_key, created_at, reason):
    before = snapshot()
    response = api.post("usage", record(org, created_at=created_at), agency_key)
    assert_error(response, 400, "invalid_record")
    assert reason in response.json()["error"]["message"]
    assert snapshot() == before


def test_created_at_at_the_lower_bound_is_accepted_and_reads_back(api, agency, org, agency_key):
    assert (
        api.post("usage", record(org, id="y2k", created_at="2000-01-01T01:00:00+01:00"), agency_key).status_code == 201
    )
    assert (
        api.post("usage", record(org, id="y2k", created_at="2000-01-01T00:00:00Z"), agency_key).json()["status"]
        == "duplicate"
    )
    listed = api.get("usage", agency_key, start_date="2000-01-01", end_date="2000-01-01").json()["usage"]
    assert [(u["id"], u["created_at"]) for u in listed] == [("y2k", "2000-01-01T00:00:00.000Z")]


# --- 3. JSON nested thousands deep ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["usage", "calls/authorize"])
def test_json_nested_thousands_deep_is_a_400_on_every_endpoint_with_a_body(api, agency, org, agency_key, path):
    before = snapshot()
    for body in ("[" * 100_000 + "]" * 100_000, '{"records": ' + "[" * 50_000 + "]" * 50_000 + "}"):
        assert_error(post_raw(api, path, body, agency_key), 400, "invalid_json")
    assert snapshot() == before


# --- 4. integer and date query parameters ----------------------------------------------------------


@pytest.mark.parametrize(
    "path, name, value",
    [
        ("usage", "limit", "²"),
        ("usage", "limit", "٣"),
        ("usage", "limit", "１０"),
        ("usage", "limit", "1e3"),
        ("usage", "organization_id", "²"),
        ("billing/balance", "organization_id", "²"),
        ("billing/balance", "organization_id", "9" * 19),
        ("usage", "organization_id", "99999999999999999999999"),
        ("usage", "limit", " 5"),
        ("usage", "limit", "-1"),
    ],
)
def test_integer_parameters_take_ascii_digits_in_range_only(api, agency, org, agency_key, path, name, value):
    response = api.get(path, agency_key, **{name: value})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("invalid_parameter", "invalid_field")


def test_the_largest_organization_id_is_merely_unknown(api, agency, org, agency_key):
    assert_error(api.get("billing/balance", agency_key, organization_id=str(2**63 - 1)), 404, "organization_not_found")


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "9999-12-01", "end_date": "9999-12-31"},
        {"end_date": "9999-12-31"},
        {"start_date": "２０２５-01-01"},
        {"start_date": "2025-01-01\n"},
    ],
)
def test_dates_that_overflow_or_are_not_ascii_are_a_400(api, agency, org, agency_key, params):
    assert_error(api.get("usage", agency_key, **params), 400, "invalid_date")


@pytest.mark.parametrize(
    "cursor",
    [
        "MDAwMS0wMS0wMVQwMDowMDowMCswMTowMHw1",  # 0001-01-01T00:00:00+01:00|5: year 0 in UTC
        "MjAyNS0wMS0wMVQwMDowMDowMCswMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # a pk past bigint
        "w6k",
        "\x00",
        "½",
    ],
)
def test_a_cursor_the_api_never_made_is_a_400(api, agency, org, agency_key, cursor):
    assert_error(api.get("usage", agency_key, cursor=cursor), 400, "invalid_cursor")


def test_a_non_ascii_bearer_key_is_a_401_not_a_500(api, agency, org):
    response = api.client.get("/api/v1/account", HTTP_AUTHORIZATION="Bearer wlk_\ud800abc")
    assert_error(response, 401, "invalid_api_key")


# --- Rows stored before this fix: found, repaired, and never a 500 meanwhile -------------------------


def _store_year_zero(org, record_id: str) -> dict:
    """What the old ingest let through: 0001-01-01T00:30:00+01:00, stored as year 0 (1 BC) in UTC."""
    body = record(org, id=record_id, created_at="2025-12-13T10:00:00.000Z")
    usage_ingest(agency_id=org.agency_id, records=[body])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {UsageRecord._meta.db_table} SET created_at = "
            "'0001-01-01T00:30:00+01:00'::timestamptz WHERE record_id = %s",
            [record_id],
        )
    usage_rollups_rebuild(organization_id=org.pk)  # the rollups the migration would have built from that row
    return {**body, "created_at": "0001-01-01T00:30:00+01:00"}


@pytest.mark.postgres
def test_an_unloadable_stored_row_never_makes_a_500_and_its_batch_applies(api, client, agency, org, agency_key):
    old = _store_year_zero(org, "old-year-0")

    # Its retry is refused alone (the row cannot be read to compare); the rest of the batch applies.
    response = api.post("usage", {"records": [record(org, id="new-1"), old, record(org, id="new-2")]}, agency_key)
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == ["applied", "rejected", "applied"]
    assert_error(api.post("usage", old, agency_key), 400, "invalid_record")

    # The client's usage page lists what it can load.
    client.force_login(org.members.get())
    page = client.get("/usage/", HTTP_HOST=host(agency))
    assert page.status_code == 200 and "new-1" in page.text and "old-year-0" not in page.text


@pytest.mark.postgres
def test_usage_data_check_finds_an_unloadable_row_and_repair_makes_it_readable(api, agency, org, agency_key):
    _store_year_zero(org, "old-year-0")
    usage_ingest(agency_id=agency.pk, records=[record(org, id="fine")])

    with pytest.raises(CommandError, match=r"(?s)1 usage record.*'old-year-0'.*BC"):
        call_command("usage_data_check", stdout=io.StringIO())
    out = io.StringIO()
    call_command("usage_data_check", "--repair", stdout=out)
    assert "Repaired 1 usage record" in out.getvalue()
    call_command("usage_data_check", stdout=io.StringIO())  # passes now

    stored = UsageRecord.objects.get(record_id="old-year-0")
    assert stored.created_at == stored.received_at
    assert UsageRecord.objects.get(record_id="fine").created_at.isoformat().startswith("2025-12-13")
    # Readable again: its retry is an answer (the content moved, so a conflict), not a refusal or a 500.
    retry = api.post("usage", record(org, id="old-year-0", created_at="2025-12-13T10:00:00.000Z"), agency_key)
    assert_error(retry, 409, "conflict")


def test_usage_data_check_passes_on_clean_data(agency, org):
    usage_ingest(agency_id=agency.pk, records=[record(org, id="fine")])
    out = io.StringIO()
    call_command("usage_data_check", stdout=out)
    assert "passed" in out.getvalue()

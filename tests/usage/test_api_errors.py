"""Every error of every /api/v1/ endpoint: the right status, a JSON error, and nothing changed."""

import pytest

from tests.conftest import host
from tests.usage.conftest import Api, record, snapshot
from usage import keys
from usage.models import ApiKey

ENDPOINTS = [
    ("get", "account", None),
    ("get", "billing/balance", None),
    ("get", "usage", None),
    ("post", "usage", "record"),
    ("post", "calls/authorize", "authorize"),
]


def call(api, method, path, body, key, org):
    if method == "get":
        return api.get(path, key)
    payload = record(org) if body == "record" else {"organization_id": org.pk, "max_minutes": 5}
    return api.post(path, payload, key)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    if code:
        assert error["code"] == code
    return error


@pytest.fixture
def world(api, agency, org, agency_key, client_key, other_agency):
    """Two tenants with balances, keys and a reservation: what a refused request must leave alone."""
    api.post("usage", record(org, id="existing"), agency_key)
    api.post("calls/authorize", {"organization_id": org.pk, "max_minutes": 5}, agency_key)
    return snapshot()


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
def test_a_request_without_a_key_is_401_and_changes_nothing(api, org, world, method, path, body):
    response = call(api, method, path, body, None, org)
    assert_error(response, 401, "missing_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert snapshot() == world


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token wlk_abc", "wlk_abc"])
def test_a_malformed_authorization_header_is_401(api, org, world, method, path, body, header):
    api.client.defaults["HTTP_AUTHORIZATION"] = header
    assert_error(call(api, method, path, body, None, org), 401, "missing_api_key")
    assert snapshot() == world


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
def test_an_unknown_key_is_401_and_changes_nothing(api, org, world, method, path, body):
    assert_error(call(api, method, path, body, "wlk_" + "x" * 43, org), 401, "invalid_api_key")
    assert snapshot() == world


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
def test_a_revoked_key_is_401_and_changes_nothing(api, org, agency_key, client_key, world, method, path, body):
    for secret in (agency_key, client_key):
        api_key = ApiKey.objects.get(prefix=secret[: keys.PREFIX_LENGTH])
        keys.api_key_revoke(api_key=api_key)
        assert_error(call(api, method, path, body, secret, org), 401, "revoked_api_key")
    assert snapshot() == world


@pytest.mark.parametrize(
    "method, path",
    [
        ("delete", "account"),
        ("post", "account"),
        ("put", "billing/balance"),
        ("patch", "usage"),
        ("delete", "usage"),
        ("get", "calls/authorize"),
        ("put", "calls/authorize"),
    ],
)
def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(api, agency_key, world, method, path):
    response = getattr(api.client, method)(f"/api/v1/{path}", HTTP_AUTHORIZATION=f"Bearer {agency_key}")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] in {"GET", "POST", "GET, POST"}
    assert snapshot() == world


@pytest.mark.parametrize("path", ["nothing", "account/", "usage/123", "v2/account", "billing", ""])
def test_an_unknown_api_path_is_a_json_404_on_the_console_and_on_a_portal(agency, agency_key, path):
    for api in (Api(), Api(host=host(agency))):
        assert_error(api.get(path, agency_key), 404, "not_found")
        assert_error(api.post(path, {}, agency_key), 404, "not_found")


def test_the_api_answers_on_a_switched_off_portal_host_too(agency, org, client_key):
    from agencies import services

    services.agency_set_active(agency=agency, active=False)
    response = Api(host=host(agency)).get("account", client_key)
    assert response.status_code == 200 and response.json()["id"] == org.pk


# Limits count per clock minute: the clock stands still 5 s into one, so a test cannot straddle two
# and the wait it is told is exact.
FIVE_SECONDS_INTO_A_MINUTE = "2026-05-13T12:00:05Z"


@pytest.mark.now(FIVE_SECONDS_INTO_A_MINUTE, tick=False)
def test_too_many_requests_for_one_key_are_429_with_retry_after(api, agency, org, client_key, world, settings, clock):
    agency_key = keys.api_key_create(name="limited", agency=agency).secret
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        assert api.get("account", agency_key).status_code == 200
    limited = api.post("usage", record(org, id="over-the-limit"), agency_key)
    assert_error(limited, 429, "rate_limited")
    assert limited["Retry-After"] == "55"
    assert snapshot() == world
    assert api.get("account", client_key).status_code == 200  # another key has its own allowance
    clock.shift(55)  # the wait it was told: a new minute, a new allowance
    assert api.get("account", agency_key).status_code == 200


@pytest.mark.now(FIVE_SECONDS_INTO_A_MINUTE, tick=False)
def test_repeated_bad_keys_from_one_address_are_429(api, world, settings):
    settings.API_AUTH_FAILURES_PER_MINUTE = 5
    for n in range(5):
        assert api.get("account", f"wlk_guess{n}").status_code == 401
    assert_error(api.get("account", "wlk_guess-again"), 429, "rate_limited")
    assert snapshot() == world


# --- POST /api/v1/usage ----------------------------------------------------------


def test_a_client_key_cannot_report_usage_for_its_agency(api, org, client_key, world):
    assert_error(api.post("usage", record(org), client_key), 403, "agency_key_required")
    assert_error(api.post("usage", {"records": [record(org)]}, client_key), 403, "agency_key_required")
    assert snapshot() == world


@pytest.mark.parametrize("raw", ['{"records": [', "not json", "", '{"id": "a",}', "\xff\xfe"])
def test_malformed_json_is_400(api, agency_key, world, raw):
    assert_error(api.post("usage", raw, agency_key, raw=True), 400, "invalid_json")
    assert_error(api.post("calls/authorize", raw, agency_key, raw=True), 400, "invalid_json")
    assert snapshot() == world


def test_a_body_that_is_not_json_by_its_content_type_is_400(api, org, agency_key, world):
    response = api.client.post(
        "/api/v1/usage",
        "id=1",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {agency_key}",
    )
    assert_error(response, 400, "invalid_json")
    assert snapshot() == world


@pytest.mark.parametrize(
    "body",
    [[], [1, 2], 42, "text", None, {"records": []}, {"records": {"id": "a"}}, {"records": "all"}, {"records": None}],
)
def test_a_body_that_is_neither_a_record_nor_a_batch_is_400(api, agency_key, world, body):
    assert_error(api.post("usage", body, agency_key), 400, "invalid_batch")
    assert snapshot() == world


def test_a_batch_of_1001_records_is_refused_whole(api, org, agency_key, world):
    batch = [record(org, id=f"big-{n}") for n in range(1001)]
    error = assert_error(api.post("usage", {"records": batch}, agency_key), 400, "batch_too_large")
    assert "1000" in error["message"]
    assert snapshot() == world


def test_a_batch_of_1000_records_is_accepted(api, org, agency_key):
    batch = [record(org, id=f"ok-{n}", duration_sec=1) for n in range(1000)]
    response = api.post("usage", {"records": batch}, agency_key)
    assert response.status_code == 200 and response.json()["counts"]["applied"] == 1000
    org.refresh_from_db()
    assert org.credits_balance == 100 - 1000


@pytest.mark.parametrize(
    "change, field",
    [
        ({"duration_sec": -1}, "duration_sec"),
        ({"duration_sec": "84"}, "duration_sec"),
        ({"duration_sec": None}, "duration_sec"),
        ({"organization_id": "1"}, "organization_id"),
        ({"created_at": "13/12/2025"}, "created_at"),
        ({"direction": 1}, "direction"),
        ({"id": ""}, "id"),
        ({"number_id": ["n"]}, "number_id"),
    ],
)
def test_a_single_bad_record_is_400_naming_the_field(api, org, agency_key, world, change, field):
    error = assert_error(api.post("usage", record(org, **change), agency_key), 400, "invalid_record")
    assert field in error["message"]
    assert snapshot() == world


def test_a_single_record_for_another_tenants_client_is_404(api, agency_key, other_agency, world):
    response = api.post("usage", record(other_agency.org), agency_key)
    assert_error(response, 404, "unknown_organization")
    assert snapshot() == world


def test_a_batch_for_another_tenants_client_rejects_those_records(api, agency_key, other_agency, world):
    response = api.post("usage", {"records": [record(other_agency.org, id="theirs")]}, agency_key)
    assert response.status_code == 200
    assert response.json()["results"][0]["code"] == "unknown_organization"
    assert snapshot() == world


# --- POST /api/v1/calls/authorize --------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"max_minutes": 5},
        {"organization_id": None, "max_minutes": 5},
        {"organization_id": "1", "max_minutes": 5},
        {"organization_id": 1.0, "max_minutes": 5},
    ],
)
def test_an_agency_key_must_name_an_organization_by_its_integer_id(api, agency_key, world, body):
    assert_error(api.post("calls/authorize", body, agency_key), 400, "invalid_field")
    assert snapshot() == world


@pytest.mark.parametrize("max_minutes", [None, 0, -3, "5", 2.5, True, 10**6])
def test_max_minutes_must_be_a_sensible_whole_number(api, org, agency_key, world, max_minutes):
    body = {"organization_id": org.pk, "max_minutes": max_minutes}
    error = assert_error(api.post("calls/authorize", body, agency_key), 400, "invalid_field")
    assert "max_minutes" in error["message"]
    assert snapshot() == world


@pytest.mark.parametrize("body", [[1], "x", 5])
def test_an_authorization_body_must_be_an_object(api, agency_key, world, body):
    assert_error(api.post("calls/authorize", body, agency_key), 400, "invalid_json")
    assert snapshot() == world


def test_no_key_authorizes_a_call_for_another_tenants_client(api, agency_key, client_key, other_agency, world):
    body = {"organization_id": other_agency.org.pk, "max_minutes": 5}
    assert_error(api.post("calls/authorize", body, agency_key), 404, "organization_not_found")
    assert_error(api.post("calls/authorize", body, client_key), 404, "organization_not_found")
    assert snapshot() == world


def test_a_client_key_cannot_authorize_for_a_sibling_client(api, agency, client_key, make_client_user, world):
    sibling = make_client_user(agency, company_name="Sibling").organization
    body = {"organization_id": sibling.pk, "max_minutes": 5}
    assert_error(api.post("calls/authorize", body, client_key), 404, "organization_not_found")


# --- GET endpoints -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, code",
    [
        ({"start_date": "2025-12"}, "invalid_date"),
        ({"start_date": "20251201"}, "invalid_date"),
        ({"start_date": "2025-02-30"}, "invalid_date"),
        ({"end_date": "31.12.2025"}, "invalid_date"),
        ({"start_date": "2025-12-31", "end_date": "2025-12-01"}, "invalid_date_range"),
        ({"start_date": "2024-01-01", "end_date": "2025-01-01"}, "invalid_date_range"),
        ({"limit": "0"}, "invalid_parameter"),
        ({"limit": "1001"}, "invalid_parameter"),
        ({"limit": "ten"}, "invalid_parameter"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ({"cursor": "%%%"}, "invalid_cursor"),
        ({"organization_id": "abc"}, "invalid_parameter"),
    ],
)
def test_bad_usage_query_parameters_are_400(api, agency_key, client_key, world, params, code):
    for key in (agency_key, client_key):
        assert_error(api.get("usage", key, **params), 400, code)


def test_a_range_of_exactly_366_days_is_allowed(api, agency_key):
    assert api.get("usage", agency_key, start_date="2024-01-01", end_date="2024-12-31").status_code == 200


@pytest.mark.parametrize("path", ["usage", "billing/balance"])
def test_no_key_reads_another_tenants_organization(
    api, agency, agency_key, client_key, other_agency, make_client_user, path
):
    sibling = make_client_user(agency, company_name="Sibling").organization
    assert_error(api.get(path, agency_key, organization_id=other_agency.org.pk), 404, "organization_not_found")
    assert_error(api.get(path, client_key, organization_id=other_agency.org.pk), 404, "organization_not_found")
    assert_error(api.get(path, client_key, organization_id=sibling.pk), 404, "organization_not_found")
    assert_error(api.get(path, other_agency.key, organization_id=sibling.pk), 404, "organization_not_found")


def test_a_body_over_the_upload_limit_is_400_not_an_error_page(api, org, agency_key, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    batch = [record(org, id=f"long-{n}", number_id="n" * 100) for n in range(20)]
    assert_error(api.post("usage", {"records": batch}, agency_key), 400, "invalid_batch")
    assert snapshot() == world

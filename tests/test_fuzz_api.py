"""Property-based (issue 10): no input makes an /api/v1/ endpoint or a Stripe webhook answer 500.

Arbitrary JSON, strings with control characters and lone surrogates, huge and negative numbers, odd
dates, query strings of any bytes and bad signatures, at every endpoint of usage/urls_api.py and
billing/urls_api.py. Each 4xx must be the documented JSON error. The ledger check that closes every
test (tests/conftest.py) proves that whatever was accepted was also charged correctly. Runs on SQLite and,
in the PostgreSQL pass, on PostgreSQL, which refuses far more (NUL, surrogates, out-of-range values).
"""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_from_bytes

import pytest
import stripe
from django.test import Client
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import minutes_add
from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_standin  # noqa: F401
from usage import keys

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
API_PATHS = [
    "account",
    "billing/balance",
    "usage",
    "calls/authorize",
    "billing/usage",
    "billing/usage/detailed",
    "billing/transactions",
    "billing/invoices",
    "billing/invoices/inv_1/pdf",
    "billing/alerts",
    "no/such/endpoint",
]
EVENT_TYPES = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "customer.created",
]

# --- Strategies -------------------------------------------------------------------------------------

SPECIAL = [
    "\x00",
    "\ud800",
    "\udbff",
    "\udfff",
    "\x1f",
    "\x7f",
    "\x85",
    "\ufeff",
    "\u202e",
    "\n",
    "²",
    "٣",
    "１",
    "\U0001f4de",
    "'",
    '"',
    "\\",
    "%",
    "|",
    ".",
]
texts = st.text(st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=30)
numbers = st.one_of(
    st.integers(min_value=-10, max_value=10**6),
    st.integers(),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def odd_dates(draw) -> str:
    """Times as a platform might write them, from year 1 to 9999, with any offset, and near misses."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))  # noqa: DTZ001 (Hypothesis bounds are naive)
    minutes = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    sign, offset = "+" if minutes >= 0 else "-", abs(minutes)
    zone = draw(
        st.sampled_from(
            ["Z", f"{sign}{offset // 60:02d}:{offset % 60:02d}", f"{sign}{offset // 60:02d}00", "+24:00", "", "+99:99"]
        )
    )
    text = moment.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))) + zone
    return draw(st.sampled_from([text, text.replace("T", " "), text + "\n", text.replace("1", "١"), text[:-1]]))


dates = st.one_of(
    odd_dates(),
    st.sampled_from(["2025-12-13T10:00:00.000Z", "2000-01-01T00:00:00Z"]),
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2030, 1, 1)).map(lambda d: d.isoformat() + "Z"),  # noqa: DTZ001
)
leaves = st.one_of(st.none(), st.booleans(), numbers, texts, dates)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=10,
)


def usage_records(organization_ids: list[int]):
    """Records with every field sometimes right, sometimes anything: good ones must still apply."""
    good_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
    record = st.fixed_dictionaries(
        {
            "id": st.one_of(good_ids, texts, json_values),
            "organization_id": st.one_of(st.sampled_from(organization_ids), numbers, json_values),
            "duration_sec": st.one_of(st.integers(min_value=-5, max_value=7 * 24 * 3600 + 5), numbers),
            "created_at": st.one_of(dates, json_values),
            "number_id": st.one_of(good_ids, texts, json_values),
            "direction": st.one_of(st.sampled_from(["inbound", "outbound"]), texts, json_values),
        },
        optional={
            "reservation_id": st.one_of(st.uuids().map(str), texts, json_values),
            "extra": json_values,
        },
    )
    return st.one_of(record, record, json_values)


def bodies(organization_ids: list[int]):
    records = usage_records(organization_ids)
    authorize = st.fixed_dictionaries(
        {},
        optional={
            "organization_id": st.one_of(st.sampled_from(organization_ids), numbers, json_values),
            "max_minutes": st.one_of(st.integers(min_value=-5, max_value=10_000), numbers, json_values),
        },
    )
    alert_settings = st.fixed_dictionaries(
        {},
        optional={
            "organization_id": st.one_of(st.sampled_from(organization_ids), numbers, json_values),
            "threshold": st.one_of(st.none(), st.integers(min_value=-5, max_value=10**9), numbers, json_values),
            "webhook_url": st.one_of(
                st.none(), st.sampled_from(["https://hooks.example.com/x", "http://127.0.0.1/", ""]), texts
            ),
        },
    )
    as_json = st.one_of(
        records,
        st.fixed_dictionaries({"records": st.one_of(st.lists(records, max_size=6), json_values)}),
        authorize,
        alert_settings,
        json_values,
    ).map(json.dumps)  # ensure_ascii: surrogates travel as \udXXX
    deep = st.integers(min_value=900, max_value=20_000).map(lambda n: "[" * n + "]" * n)
    return st.one_of(as_json, as_json, deep, st.binary(max_size=64))


def query_strings(organization_ids: list[int]):
    """Any bytes, percent-encoded as a client may send them (lone surrogates as their invalid UTF-8)."""
    names = st.one_of(
        st.sampled_from(
            ["limit", "organization_id", "start_date", "end_date", "cursor", "month", "from", "to", "group_by", "kind"]
        ),
        texts,
    )
    values = st.one_of(
        texts,
        st.sampled_from([str(i) for i in organization_ids]),
        st.integers().map(str),
        st.dates().map(str),
        st.sampled_from(
            [
                *["²", "1000", "1001", "0", "9999-12-31", "0001-01-01", "MDAwMS0wMS0wMVQwMDowMDowMCswMTowMHw1"],
                *["9999-12", "2026-02", "organization", "number", "usage", "topup", "reservation_hold"],
            ]
        ),
    )
    pairs = st.lists(st.tuples(names, values), max_size=4)

    def encode(text: str) -> str:
        return quote_from_bytes(text.encode("utf-8", "surrogatepass"))

    return pairs.map(lambda ps: "&".join(f"{encode(k)}={encode(v)}" for k, v in ps))


# --- Checks -----------------------------------------------------------------------------------------


def assert_json_error_if_4xx(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if 400 <= response.status_code < 500:
        assert response["Content-Type"] == "application/json", response.content[:200]
        error = response.json()["error"]
        assert set(error) == {"code", "message"} and isinstance(error["code"], str) and error["message"]


@pytest.fixture
def world(make_agency, make_client_user):
    agency = make_agency(active=True)
    minutes_add(agency, 1_000)
    org = make_client_user(agency).organization
    other = make_agency(active=True)
    other_org = make_client_user(other).organization
    agency_key = keys.api_key_create(name="sync", agency=agency).secret
    client_key = keys.api_key_create(name="client", organization=org).secret
    return {
        "organization_ids": [org.pk, other_org.pk, 2**63 - 1],
        "auth": [f"Bearer {agency_key}", f"Bearer {client_key}", "", "Bearer wlk_nope", "Basic abc"],
    }


def _client() -> Client:
    return Client(HTTP_HOST="localhost", enforce_csrf_checks=True)


# --- /api/v1/ ---------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_no_body_sent_to_an_api_endpoint_answers_500(world, data):
    client = _client()
    path = data.draw(st.sampled_from(API_PATHS))
    method = data.draw(st.sampled_from(["post", "post", "post", "put", "patch", "delete"]))
    body = data.draw(bodies(world["organization_ids"]))
    content_type = data.draw(st.sampled_from(["application/json", "application/json", "text/plain", ""]))
    auth = data.draw(st.sampled_from(world["auth"][:2]) | st.sampled_from(world["auth"]))
    response = getattr(client, method)(f"/api/v1/{path}", body, content_type=content_type, HTTP_AUTHORIZATION=auth)
    assert_json_error_if_4xx(response)


@FUZZ
@given(data=st.data())
def test_no_batch_of_usage_records_answers_500_and_well_formed_ones_apply(world, data):
    client = _client()
    records = data.draw(st.lists(usage_records(world["organization_ids"]), min_size=1, max_size=8))
    response = client.post(
        "/api/v1/usage",
        json.dumps({"records": records}),
        content_type="application/json",
        HTTP_AUTHORIZATION=world["auth"][0],
    )
    assert_json_error_if_4xx(response)
    assert response.status_code == 200, response.content[:300]
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(records)))
    # A record of the agency's own client with every field right is never rejected for another's sake.
    for raw, result in zip(records, results):
        if _plainly_good(raw, world["organization_ids"][0]):
            assert result["status"] in ("applied", "duplicate", "conflict"), (raw, result)


def _plainly_good(raw, organization_id: int) -> bool:
    return (
        isinstance(raw, dict)
        and set(raw) == {"id", "organization_id", "duration_sec", "created_at", "number_id", "direction"}
        and isinstance(raw["id"], str)
        and raw["id"].isascii()
        and raw["id"].isprintable()
        and len(raw["id"]) > 0
        and raw["organization_id"] == organization_id
        and type(raw["organization_id"]) is int
        and type(raw["duration_sec"]) is int
        and 0 <= raw["duration_sec"] <= 7 * 24 * 3600
        and raw["created_at"] == "2025-12-13T10:00:00.000Z"
        and isinstance(raw["number_id"], str)
        and raw["number_id"].isascii()
        and raw["number_id"].isprintable()
        and len(raw["number_id"]) > 0
        and raw["direction"] in ("inbound", "outbound")
    )


@FUZZ
@given(data=st.data())
def test_no_query_string_on_an_api_endpoint_answers_500(world, data):
    client = _client()
    path = data.draw(st.sampled_from(API_PATHS))
    query = data.draw(query_strings(world["organization_ids"]))
    auth = data.draw(st.sampled_from(world["auth"][:2]) | st.sampled_from(world["auth"]))
    response = client.get(f"/api/v1/{path}?{query}", HTTP_AUTHORIZATION=auth)
    assert_json_error_if_4xx(response)


@FUZZ
@given(auth=st.text(st.characters(max_codepoint=0xFF), max_size=60), path=st.sampled_from(API_PATHS))
def test_no_authorization_header_answers_500(world, auth, path):
    assert_json_error_if_4xx(_client().get(f"/api/v1/{path}", HTTP_AUTHORIZATION=auth))


# --- /api/webhooks/stripe/<slug> and /platform ------------------------------------------------------


@pytest.fixture
def webhook_world(stripe_agency, settings):  # noqa: F811
    agency = stripe_agency()
    settings.PLATFORM_STRIPE_SECRET_KEY = agency.stripe_secret_key  # the platform's account: any stand-in account
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = "whsec_platform_fuzz_12345678"
    return {
        "agency": agency.slug,
        agency.slug: agency.stripe_webhook_secret,
        "platform": settings.PLATFORM_STRIPE_WEBHOOK_SECRET,
    }


def _assert_webhook_answer(response) -> None:
    assert response.status_code in (200, 400, 404, 503), (response.status_code, response.content[:300])
    if response.status_code != 200:
        assert response["Content-Type"] == "application/json"
        error = response.json()["error"]
        assert set(error) == {"code", "message"} and error["message"]


@FUZZ
@given(data=st.data())
def test_no_unsigned_or_badly_signed_webhook_answers_500(webhook_world, data):
    slug = data.draw(st.sampled_from([webhook_world["agency"], "platform", "no-such-portal"]))
    body = data.draw(
        st.one_of(
            st.binary(max_size=200),
            json_values.map(json.dumps),
            st.integers(min_value=900, max_value=20_000).map(lambda n: "[" * n + "]" * n),
        )
    )
    signature = data.draw(
        st.one_of(
            st.text(st.characters(max_codepoint=0xFF), max_size=80),
            st.integers(min_value=0, max_value=2**40).map(lambda t: f"t={t},v1={'0' * 64}"),
        )
    )
    response = _client().post(
        f"/api/webhooks/stripe/{slug}", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    _assert_webhook_answer(response)
    if response.status_code != 404:
        assert response.status_code == 400


@st.composite
def events(draw):
    ids = st.one_of(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20), texts, json_values
    )
    obj = draw(
        st.one_of(
            st.fixed_dictionaries(
                {"id": ids}, optional={"payment_intent": ids, "object": texts, "metadata": json_values}
            ),
            json_values,
        )
    )
    event = draw(
        st.fixed_dictionaries(
            {
                "id": ids,
                "type": st.one_of(st.sampled_from(EVENT_TYPES), texts),
                "data": st.one_of(st.fixed_dictionaries({"object": st.just(obj)}), json_values),
            },
            optional={"object": st.just("event"), "livemode": st.booleans()},
        )
    )
    return draw(st.one_of(st.just(event), json_values))


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_no_signed_webhook_of_any_content_answers_500(webhook_world, data):
    """Correctly signed, so the body is parsed and acted on: any shape of event is a 200, 400 or 503."""
    slug = data.draw(st.sampled_from([webhook_world["agency"], "platform"]))
    payload = json.dumps(data.draw(events()))
    signature = stripe.WebhookSignature.generate_signature_header(payload, webhook_world[slug])
    response = _client().post(
        f"/api/webhooks/stripe/{slug}", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    _assert_webhook_answer(response)


def test_an_expired_signature_is_still_a_json_400(webhook_world):
    slug = webhook_world["agency"]
    payload = json.dumps({"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {"id": "cs_1"}}})
    old = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    signature = stripe.WebhookSignature.generate_signature_header(payload, webhook_world[slug], timestamp=old)
    response = _client().post(
        f"/api/webhooks/stripe/{slug}", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_event"

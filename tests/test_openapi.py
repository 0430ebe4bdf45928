"""docs/openapi.yaml: valid OpenAPI 3.1, in step with the routes, served as it is, and really enforced.

tests/openapi_check.py checks every /api/v1/ answer the suite sees against the document; the tests at the
end feed it answers that are wrong on purpose, so a check that silently passes everything cannot go unseen.
"""

import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate
from openapi_spec_validator.versions.shortcuts import get_spec_version

from tests import openapi_check
from tests.openapi_check import NOT_YET_BUILT, SERVER, Drift, document, problem
from usage import api, keys

URLCONFS = ["portal.urls_console", "portal.urls_portal"]
SAMPLE_IDS = {"document_id": "inv_1", "method_id": "pm_1"}
HTTP_METHODS = ("get", "post", "put", "delete", "patch")


def _routes(patterns, prefix=""):
    """Every route Django's resolver holds, as (full path template, view)."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", prefix + str(entry.pattern)), entry.callback


def _api_routes(urlconf: str) -> set[str]:
    """The endpoints under /api/v1/ (the api_v1 namespace and anything else mounted there), minus the catch-all."""
    mount = SERVER.lstrip("/") + "/"
    namespaces = get_resolver(urlconf).namespace_dict
    assert namespaces["api_v1"][0] == mount, "the api_v1 namespace is mounted at /api/v1/"
    return {
        "/" + path.removeprefix(mount)
        for path, view in _routes(get_resolver(urlconf).url_patterns)
        if path.startswith(mount) and view is not api.not_found
    }


def _operations():
    for template, item in document()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield template, method, item[method]


def _concrete(template: str) -> str:
    return SERVER + re.sub(r"\{(\w+)\}", lambda m: SAMPLE_IDS[m.group(1)], template)


def test_the_document_is_valid_openapi_3_1():
    spec = document()
    validate(spec)
    assert get_spec_version(spec).major == "3" and spec["openapi"].startswith("3.1.")


def test_operation_ids_are_unique_and_every_error_status_uses_the_error_schema():
    ids = [operation["operationId"] for _, _, operation in _operations()]
    assert len(ids) == len(set(ids))
    for template, method, operation in _operations():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                text = json.dumps(response)
                assert "#/components/" in text, f"{method} {template} {status} must use the Error schema"


@pytest.mark.parametrize("urlconf", URLCONFS)
def test_every_api_route_is_documented_and_every_documented_path_is_routed(urlconf):
    routed, documented = _api_routes(urlconf), set(document()["paths"])
    assert routed - documented == set(), "routes missing from docs/openapi.yaml"
    assert documented - routed == set(), "documented paths that no route serves"


@pytest.mark.parametrize(("template", "method"), [(t, m) for t, m, _ in _operations() if t != "/openapi.yaml"])
def test_every_documented_method_is_taken_and_no_other(db, settings, template, method):
    # Without a key, a method the endpoint takes answers 401; one it does not take answers 405.
    settings.API_AUTH_FAILURES_PER_MINUTE = 1000
    client = Client(HTTP_HOST="localhost")
    path = _concrete(template)
    taken = {m for m in HTTP_METHODS if m in document()["paths"][template]}
    assert getattr(client, method)(path).status_code == 401
    for other in set(HTTP_METHODS) - taken:
        assert getattr(client, other)(path).status_code == 405, f"{other.upper()} {path} is not documented"


@pytest.mark.parametrize("on_a_portal", [False, True])
def test_the_document_is_served_without_a_key_exactly_as_the_file(make_agency, on_a_portal):
    host = f"{make_agency(active=True).slug}.localhost" if on_a_portal else "localhost"
    response = Client(HTTP_HOST=host).get("/api/v1/openapi.yaml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml"
    assert response.content == openapi_check.DOCUMENT.read_bytes()


def test_operations_not_yet_built_are_documented_and_still_stubs(make_agency):
    # The merger empties NOT_YET_BUILT: this fails, naming it, as soon as a listed endpoint is built.
    agency = make_agency(active=True)
    key = keys.api_key_create(name="stub probe", agency=agency).secret
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    by_id = {operation["operationId"]: (template, method) for template, method, operation in _operations()}
    assert set(by_id) >= NOT_YET_BUILT
    for operation_id in sorted(NOT_YET_BUILT):
        template, method = by_id[operation_id]
        response = getattr(client, method)(_concrete(template), {} if method == "get" else "{}", "application/json")
        assert response.status_code == 501, f"{operation_id} is built now: remove it from NOT_YET_BUILT"


# --- The check itself catches drift --------------------------------------------------------------------------

ACCOUNT = {"id": 1, "company_name": "Acme", "minutes_balance": 5, "monthly_usage_minutes": 0}
UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="api"'}


def _problem(method, path, status, body, headers=None, content_type="application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return problem(method=method, path=path, status=status, content_type=content_type, body=raw, headers=headers or {})


def test_a_conforming_answer_passes():
    assert _problem("GET", "/api/v1/account", 200, ACCOUNT) is None
    assert (
        _problem("GET", "/api/v1/account", 401, {"error": {"code": "invalid_api_key", "message": "No."}}, UNAUTHORIZED)
        is None
    )
    assert _problem("GET", "/api/v1/no/such", 404, {"error": {"code": "not_found", "message": "No."}}) is None
    assert _problem("PUT", "/api/v1/account", 405, {"error": {"code": "method_not_allowed", "message": "No."}}) is None
    assert _problem("GET", "/api/v1/openapi.yaml", 200, b"openapi: 3.1.0\n", content_type="application/yaml") is None


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "headers", "says"),
    [
        ("GET", "/api/v1/account", 200, {k: v for k, v in ACCOUNT.items() if k != "id"}, None, "'id' is a required"),
        ("GET", "/api/v1/account", 200, {**ACCOUNT, "secret": "x"}, None, "'secret' was unexpected"),
        ("GET", "/api/v1/account", 200, {**ACCOUNT, "minutes_balance": "5"}, None, "is not of type 'integer'"),
        ("GET", "/api/v1/billing/balance", 200, {"free": 1, "reserved": -1, "total": 0}, None, "minimum"),
        ("GET", "/api/v1/account", 418, {"error": {"code": "teapot", "message": "x"}}, None, "418"),
        ("GET", "/api/v1/account", 500, {"error": {"code": "internal_error", "message": "x"}}, None, "500"),
        ("GET", "/api/v1/account", 401, {"error": {"code": "nope", "message": "x"}}, UNAUTHORIZED, "'nope'"),
        (
            "GET",
            "/api/v1/account",
            401,
            {"error": {"code": "invalid_api_key", "message": "x"}},
            None,
            "WWW-Authenticate",
        ),
        ("GET", "/api/v1/account", 400, {"detail": "bad"}, None, "400"),
        (
            "POST",
            "/api/v1/calls/authorize",
            201,
            {"id": "r", "organization_id": 1, "reserved_minutes": 3, "expires_at": "2025-12-13 10:00:00"},
            None,
            "does not match",
        ),
        ("GET", "/api/v1/usage", 400, {"error": {"code": "invalid_field", "message": "x"}}, None, "invalid_field"),
        ("GET", "/api/v1/account", 200, b"<html>", None, "account_get"),
        ("GET", "/api/v1/undocumented", 200, {"ok": True}, None, "undocumented path"),
        ("DELETE", "/api/v1/account", 204, b"", None, "method DELETE of a documented path"),
    ],
)
def test_the_check_catches_an_answer_the_document_does_not_describe(method, path, status, body, headers, says):
    content_type = "text/html" if body == b"<html>" else "application/json"
    found = _problem(method, path, status, body, headers, content_type)
    assert found is not None and says in found, found


def test_a_drifting_endpoint_fails_the_test_that_called_it(db, make_agency, monkeypatch):
    # End to end through the test client's hook: an endpoint whose answer loses a field is caught.
    from usage import api_views

    agency = make_agency(active=True)
    key = keys.api_key_create(name="drift", agency=agency).secret
    monkeypatch.setattr(api_views.selectors, "monthly_usage_minutes", lambda **_: "many")
    with pytest.raises(Drift, match=r"account_get.*'many' is not of type 'integer'"):
        Client(HTTP_HOST="localhost").get("/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert openapi_check.problems  # kept for the fixture too, so a worker thread's drift fails its test
    openapi_check.problems.clear()


# --- The document says what the contract (issue 13) says -----------------------------------------------------

EUR = {"amount": 1000, "currency": "EUR"}
AT = "2026-11-03T10:00:00.000Z"
METHOD = {
    "id": "pm_1",
    "type": "card",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2030,
    "default": True,
    "created_at": AT,
}
FIGURES = {"calls": 3, "seconds": 400, "minutes": 8, "cost": None}
CONTRACT_EXAMPLES = [
    (
        "GET",
        "billing/usage",
        200,
        {
            "month": "2026-11",
            "organization_id": 12,
            "unit": "credits",
            "totals": {**FIGURES, "cost": EUR},
            "days": [{"date": "2026-11-01", **FIGURES}],
        },
    ),
    (
        "GET",
        "billing/usage/detailed",
        200,
        {
            "from": "2026-11-01",
            "to": "2026-11-30",
            "group_by": "organization",
            "organization_id": None,
            "unit": "minutes",
            "totals": FIGURES,
            "groups": [{"key": "12", "name": "Client One", **FIGURES}],
        },
    ),
    ("GET", "billing/usage/detailed", 403, {"error": {"code": "agency_key_required", "message": "Agency keys only."}}),
    (
        "GET",
        "billing/transactions",
        200,
        {
            "data": [
                {
                    "id": "us_20261101_12",
                    "kind": "usage",
                    "created_at": AT,
                    "amount": -25,
                    "unit": "credits",
                    "balance_after": 75,
                    "description": "3 calls",
                    "reference": None,
                    "calls": 3,
                    "money": None,
                    "organization_id": 12,
                },
                {
                    "id": "le_123",
                    "kind": "topup",
                    "created_at": AT,
                    "amount": 100,
                    "unit": "credits",
                    "balance_after": 100,
                    "description": "Top-up",
                    "reference": "tu_1",
                    "calls": None,
                    "money": EUR,
                    "organization_id": 12,
                },
            ],
            "has_more": True,
            "next_cursor": "abc:def",
        },
    ),
    ("GET", "billing/transactions", 400, {"error": {"code": "invalid_cursor", "message": "Bad cursor."}}),
    (
        "GET",
        "billing/invoices",
        200,
        {
            "data": [
                {
                    "id": "inv_12",
                    "type": "invoice",
                    "number": "AG-2026-0001",
                    "date": "2026-11-03",
                    "net": EUR,
                    "vat": EUR,
                    "gross": EUR,
                    "currency": "EUR",
                    "status": "paid",
                    "pdf_url": "https://a.example.com/api/v1/billing/invoices/inv_12/pdf",
                }
            ],
            "has_more": False,
            "next_cursor": None,
        },
    ),
    ("GET", "billing/invoices/cn_3/pdf", 404, {"error": {"code": "document_not_found", "message": "No such."}}),
    (
        "GET",
        "billing/alerts",
        200,
        {"organization_id": None, "threshold": 50, "webhook_url": "https://x.example/h", "webhook_secret_set": True},
    ),
    (
        "PUT",
        "billing/alerts",
        200,
        {"organization_id": 12, "threshold": None, "webhook_url": None, "webhook_secret_set": False},
    ),
    (
        "GET",
        "billing/payment-methods",
        200,
        {"data": [METHOD, {**METHOD, "type": "sepa_debit", "brand": None, "exp_month": None, "exp_year": None}]},
    ),
    (
        "POST",
        "billing/payment-methods",
        201,
        {"url": "https://checkout.example/c/pay/cs_1", "session_id": "cs_1", "expires_at": AT},
    ),
    ("GET", "billing/payment-methods", 409, {"error": {"code": "stripe_not_configured", "message": "Not set up."}}),
    ("DELETE", "billing/payment-methods/pm_1", 204, b""),
    ("DELETE", "billing/payment-methods/pm_9", 404, {"error": {"code": "payment_method_not_found", "message": "No."}}),
    ("POST", "billing/payment-methods/pm_1/default", 200, METHOD),
    (
        "POST",
        "billing/topup",
        201,
        {
            "id": "tu_abc",
            "status": "succeeded",
            "amount": EUR,
            "charged": EUR,
            "units": 25,
            "unit": "credits",
            "balance_after": 125,
            "invoice_id": "inv_4",
            "payment_intent_id": "pi_1",
            "created_at": AT,
        },
    ),
    (
        "POST",
        "billing/topup",
        402,
        {"error": {"code": "card_declined", "message": "Declined.", "decline_code": "insufficient_funds"}},
    ),
    (
        "POST",
        "billing/topup",
        402,
        {
            "error": {
                "code": "authentication_required",
                "message": "Authenticate.",
                "authentication_url": "https://p.example/pay/tu_abc",
            }
        },
    ),
    ("POST", "billing/topup", 409, {"error": {"code": "idempotency_key_reused", "message": "Other body."}}),
    ("POST", "billing/topup", 503, {"error": {"code": "stripe_unavailable", "message": "Retry."}}),
    (
        "GET",
        "billing/auto-reload",
        200,
        {
            "organization_id": None,
            "enabled": True,
            "threshold": 50,
            "amount": EUR,
            "payment_method_id": "pm_1",
            "monthly_cap": {"amount": 5000, "currency": "EUR"},
            "charged_this_month": EUR,
            "paused": False,
            "paused_reason": None,
            "consecutive_declines": 0,
            "consent": {"by": "API key wlk_abcdefgh", "at": AT, "amount": EUR, "monthly_cap": EUR},
            "last_attempt": {"status": "succeeded", "at": AT, "decline_code": None},
        },
    ),
    (
        "PUT",
        "billing/auto-reload",
        200,
        {
            "organization_id": 12,
            "enabled": False,
            "threshold": None,
            "amount": None,
            "payment_method_id": None,
            "monthly_cap": None,
            "charged_this_month": {"amount": 0, "currency": "EUR"},
            "paused": True,
            "paused_reason": "3 declines in a row",
            "consecutive_declines": 3,
            "consent": None,
            "last_attempt": None,
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "status", "body"), CONTRACT_EXAMPLES)
def test_the_contracts_examples_conform(method, path, status, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    found = problem(
        method=method,
        path=f"{SERVER}/{path}",
        status=status,
        content_type="application/json",
        body=raw,
        headers={},
        even_if_not_built=True,
    )
    assert found is None, found


def test_a_pdf_conforms_and_a_page_that_is_not_one_does_not():
    pdf = {
        "method": "GET",
        "path": f"{SERVER}/billing/invoices/inv_1/pdf",
        "status": 200,
        "headers": {},
        "content_type": "application/pdf",
        "even_if_not_built": True,
    }
    assert problem(body=b"%PDF-1.7\n\xe2\xe3", **pdf) is None
    assert problem(body=b"<html>oops</html>", **pdf) is not None

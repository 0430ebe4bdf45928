"""Holds every /api/v1/ answer the test suite sees to docs/openapi.yaml, so the document cannot drift.

`install()` wraps django.test.Client.request (the path every test client request takes, in any thread):
each answer to a request under /api/v1/ is checked with openapi-core against the document. The request's
method and path must be a documented operation and the status one of its documented responses, with a
conforming body and headers. Two answers are the same for every path and need no operation: a path that
is not documented answers 404 `not_found`, a method a documented path does not take answers 405
`method_not_allowed`. A problem raises `Drift` in the test that made the request (and is kept in
`problems`, so one raised in a worker thread still fails the test; see tests/conftest.py).
"""

import json
import re
import threading
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml
from django.conf import settings
from django.test import Client
from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

SERVER = "/api/v1"
# Operations whose responses are not validated yet: their routes are 501 stubs on this branch while they are
# built on others. The merger empties this set once the endpoints are in.
NOT_YET_BUILT: frozenset[str] = frozenset()
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

problems: list[str] = []  # every problem seen since the current test started
stats = {"responses": 0, "seconds": 0.0}
_lock = threading.Lock()


class Drift(AssertionError):
    """An /api/v1/ answer the document does not describe."""


DOCUMENT = settings.BASE_DIR / "docs" / "openapi.yaml"


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text())


@cache
def openapi() -> OpenAPI:
    # Parsing and validating the document costs ~0.2 s: once per run.
    return OpenAPI.from_dict(document())


@cache
def _operations() -> tuple[tuple[re.Pattern[str], dict[str, str]], ...]:
    """(path regex, {method: operationId}) for every documented path; literal paths first."""
    found = []
    for template, item in document()["paths"].items():
        regex = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(SERVER + template)) + r"\Z")
        found.append((regex, {m: item[m]["operationId"] for m in METHODS if m in item}, "{" in template))
    found.sort(key=lambda entry: entry[2])
    return tuple((regex, methods) for regex, methods, _ in found)


def operation_for(method: str, path: str) -> tuple[bool, str | None]:
    """(is the path documented, the operationId of this method on it or None)."""
    for regex, methods in _operations():
        if regex.match(path):
            return True, methods.get(method.lower())
    return False, None


def _is_error(body: bytes, code: str) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    error = data.get("error") if isinstance(data, dict) else None
    return (
        isinstance(error, dict)
        and set(data) == {"error"}
        and error.get("code") == code
        and isinstance(error.get("message"), str)
        and bool(error["message"])
    )


def problem(
    *,
    method: str,
    path: str,
    status: int,
    content_type: str,
    body: bytes,
    headers: Mapping[str, str],
    even_if_not_built: bool = False,
) -> str | None:
    """What the document says is wrong with this answer to `method path`; None when it conforms."""
    if not path.startswith(SERVER + "/"):
        return None
    documented_path, operation_id = operation_for(method, path)
    if operation_id is None:
        expected, code = (405, "method_not_allowed") if documented_path else (404, "not_found")
        if status == expected and _is_error(body, code):
            return None
        what = f"the method {method} of a documented path" if documented_path else "an undocumented path"
        return (
            f"{method} {path} answered {status}, but it is {what}: only {expected} {code} may answer there "
            f"(document the operation in docs/openapi.yaml). Body: {body[:300]!r}"
        )
    if operation_id in NOT_YET_BUILT and not even_if_not_built:
        return None
    media_type = content_type.split(";")[0].strip()
    # openapi-core reads JSON bodies itself; any other body (YAML, PDF) is checked as text, byte for character.
    data: bytes | str = body if media_type == "application/json" or not body else body.decode("latin-1")
    try:
        openapi().validate_response(
            MockRequest("http://testserver", method, path),
            MockResponse(data, status_code=status, headers=dict(headers), content_type=media_type),  # type: ignore[arg-type]
        )
    except OpenAPIError as error:
        cause = error.__cause__ or error
        details = "; ".join(str(e.message) for e in getattr(cause, "schema_errors", ())) or str(cause)
        return (
            f"{method} {path} answered {status}, which docs/openapi.yaml ({operation_id}) does not describe: "
            f"{type(error).__name__}: {details}. Body: {body[:500]!r}"
        )
    return None


def check(response) -> None:
    """Raise Drift if this test-client response to an /api/v1/ request does not conform."""
    environ = response.request
    path = environ.get("PATH_INFO", "")
    if not path.startswith(SERVER + "/"):
        return
    started = time.perf_counter()
    if response.streaming:
        body = b"".join(response.streaming_content)
        response.streaming_content = [body]  # the test can still read it
    else:
        body = response.content
    found = problem(
        method=environ["REQUEST_METHOD"],
        path=path,
        status=response.status_code,
        content_type=response.get("Content-Type", ""),
        body=body,
        headers=dict(response.items()),
    )
    with _lock:
        stats["responses"] += 1
        stats["seconds"] += time.perf_counter() - started
        if found:
            problems.append(found)
    if found:
        raise Drift(found)


def install() -> None:
    """Check every answer any django.test.Client gets from now on (idempotent)."""
    if getattr(Client.request, "_openapi_checked", False):
        return
    original = Client.request

    def request(self, **request):
        response = original(self, **request)
        check(response)
        return response

    request._openapi_checked = True  # type: ignore[attr-defined]
    Client.request = request  # type: ignore[method-assign]

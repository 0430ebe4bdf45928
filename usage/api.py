"""Plumbing of the /api/v1/ endpoints: Bearer keys, rate limits, JSON errors.

Every answer under /api/v1/ is JSON. An error is
{"error": {"code": "...", "message": "..."}} with a fitting status. The key
in the Authorization header is never logged, echoed or stored.
"""

import json
import logging
import re
import time
from functools import cached_property, wraps
from typing import overload

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from agencies import roles
from agencies.middleware import client_ip
from agencies.models import Agency, Organization, Role

from . import keys
from .records import MAX_ID

logger = logging.getLogger(__name__)
_QUERY_INT = re.compile(r"[0-9]{1,19}")  # ASCII digits only: "²".isdigit() is true, int("²") fails


class ApiError(Exception):
    """An error answer; `extra` adds keys beside code and message (e.g. decline_code)."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.extra = extra or {}


def error_response(
    status: int, code: str, message: str, headers: dict | None = None, extra: dict | None = None
) -> JsonResponse:
    response = JsonResponse({"error": {**(extra or {}), "code": code, "message": message}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Anything under /api/v1/ that is not an endpoint (any method: no CSRF page either)."""
    return error_response(404, "not_found", "There is no such API endpoint.")


class Caller:
    """Who a request acts for: an agency, or one client organization of an agency, with the role of the
    account that created the key (read with the key, so a demotion applies to the next request).

    Built from the key lookup alone; the agency or organization row is loaded
    only by the endpoints that read it.
    """

    def __init__(self, owner: keys.KeyOwner):
        self.owner = owner
        self.agency_id = owner.agency_id
        self.organization_id = owner.organization_id
        self.role = owner.role

    @property
    def is_agency(self) -> bool:
        return self.organization_id is None

    def require(self, *, client: str, agency: str) -> None:
        """403 role_forbidden, before anything changes, unless the key's role has the capability: `client` in a
        client organization's table for its key, `agency` in an agency's for an agency key (agencies.roles)."""
        refused = roles.role_refusal(self.role, agency if self.is_agency else client, organization=not self.is_agency)
        if refused is not None:
            label = Role(self.role).label if self.role in Role.values else self.role
            raise ApiError(
                403,
                "role_forbidden",
                f"This API key acts with the role of the account that created it ({label}), "
                f"which may not {refused}. Use a key created by an account that may.",
            )

    @cached_property
    def agency(self) -> Agency:
        return Agency.objects.get(pk=self.agency_id)

    @cached_property
    def organization(self) -> Organization | None:
        if self.organization_id is None:
            return None
        return Organization.objects.get(pk=self.organization_id)


def _over_limit(bucket: str, limit: int) -> int | None:
    """Count one hit in this minute's window; seconds to wait when over `limit`, else None."""
    now = time.time()
    key = f"api-rate:{bucket}:{int(now // 60)}"
    if cache.add(key, 1, 90):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # the window expired between add and incr
            cache.add(key, 1, 90)
            count = 1
    if count > limit:
        return max(1, 60 - int(now % 60))
    return None


def _too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"Too many requests. Try again in {retry_after} seconds.",
        {"Retry-After": str(retry_after)},
    )


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, {"WWW-Authenticate": 'Bearer realm="api"'})


def _authenticate(request) -> Caller:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise _unauthorized("missing_api_key", "Send your API key as 'Authorization: Bearer <key>'.")
    # Keys are ASCII; anything else (which no real HTTP header carries) is no key, and cannot be hashed as one.
    owner = keys.api_key_find(secret=secret) if secret.isascii() else None
    if owner is None or owner.revoked:
        # Failed attempts are limited per address, so keys cannot be guessed at speed.
        wait = _over_limit(f"auth-fail:{client_ip(request) or ''}", settings.API_AUTH_FAILURES_PER_MINUTE)
        if wait:
            raise _too_many(wait)
        if owner is None:
            raise _unauthorized("invalid_api_key", "This API key is not valid.")
        raise _unauthorized("revoked_api_key", "This API key has been revoked.")
    return Caller(owner)


def api_endpoint(*methods: str):
    """An /api/v1/ view: JSON 405 for other methods, then a Bearer key, then a rate limit.

    The view is called as view(request, caller, ...) and may raise ApiError.
    No CSRF (no cookies are used); no ATOMIC_REQUESTS assumptions.
    """

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def endpoint(request, *args, **kwargs):
            if request.method not in methods:
                return error_response(
                    405, "method_not_allowed", f"Use {' or '.join(methods)} here.", {"Allow": ", ".join(methods)}
                )
            try:
                caller = _authenticate(request)
                wait = _over_limit(f"key:{caller.owner.api_key_id}", settings.API_RATE_LIMIT_PER_MINUTE)
                if wait:
                    raise _too_many(wait)
                keys.api_key_touch(owner=caller.owner)
                return view(request, caller, *args, **kwargs)
            except ApiError as error:
                return error_response(error.status, error.code, error.message, error.headers, error.extra)
            except Exception:
                logger.exception("API error on %s %s", request.method, request.path)
                return error_response(500, "internal_error", "Something went wrong on our side. Please retry.")

        return endpoint

    return decorate


def json_body(request):
    """The request body parsed as JSON, or a 400."""
    content_type = request.content_type or ""
    if content_type and content_type != "application/json":
        raise ApiError(400, "invalid_json", "Send the body as application/json.")
    try:
        return json.loads(request.body)
    except RequestDataTooBig:
        raise ApiError(400, "invalid_batch", "The body is too large: send at most 1,000 records a request.") from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    except RecursionError:  # [[[[...]]]] a few thousand deep
        raise ApiError(400, "invalid_json", "The body is nested too deeply.") from None


def int_field(value, field: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int:
    """A JSON integer in range, or a 400 naming the field (ids fit a bigint unless told otherwise)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "invalid_field", f"{field} must be an integer.")
    if value < minimum or value > maximum:
        upper = f" and at most {maximum}" if maximum < MAX_ID else ""
        raise ApiError(400, "invalid_field", f"{field} must be at least {minimum}{upper}.")
    return value


@overload
def query_int(request: HttpRequest, name: str, *, default: int, minimum: int = 1, maximum: int = MAX_ID) -> int: ...
@overload
def query_int(
    request: HttpRequest, name: str, *, default: None = None, minimum: int = 1, maximum: int = MAX_ID
) -> int | None: ...
def query_int(
    request: HttpRequest, name: str, *, default: int | None = None, minimum: int = 1, maximum: int = MAX_ID
) -> int | None:
    """The one parser of integer query parameters: ASCII digits in range, `default` when absent, else a 400."""
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    if not _QUERY_INT.fullmatch(raw):
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number.")
    try:
        return int_field(int(raw), name, minimum=minimum, maximum=maximum)
    except ApiError as error:  # a query parameter's problem is invalid_parameter; invalid_field is for bodies
        raise ApiError(400, "invalid_parameter", error.message) from None


def organization_for(caller: Caller, organization_id, *, required: bool) -> Organization | None:
    """The organization a request names, if the caller may act for it; else 404 (another tenant's looks unknown).

    A client key acts only for its own organization; an agency key for any of
    its clients. With required=False and no id, an agency key gets None.
    """
    if organization_id is None:
        if not caller.is_agency:
            return caller.organization
        if required:
            raise ApiError(400, "invalid_field", "organization_id is required with an agency key.")
        return None
    organization_id = int_field(organization_id, "organization_id")
    if not caller.is_agency:
        if organization_id == caller.organization_id:
            return caller.organization
    else:
        organization = Organization.objects.filter(pk=organization_id, agency_id=caller.agency_id).first()
        if organization is not None:
            return organization
    raise ApiError(404, "organization_not_found", "No such organization for this API key.")

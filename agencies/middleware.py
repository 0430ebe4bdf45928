import ipaddress

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponseForbidden, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils import timezone

from . import audit, mfa, tenancy, view_as

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")

# Paths served on every host: the TLS front end asks from wherever it runs.
HOST_INDEPENDENT_PATHS = {"/internal/tls-allowed"}


class TenantMiddleware:
    """Resolve the agency from the Host header and pick the URLconf for it.

    Sets `request.agency` (None on the console). Hosts we do not serve get a
    plain 404 before any other code sees them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        host = tenancy.normalize_host(request.META.get("HTTP_HOST", ""))
        request.agency = None
        if request.path in HOST_INDEPENDENT_PATHS or tenancy.is_console_host(host):
            request.urlconf = settings.ROOT_URLCONF
            return self.get_response(request)

        agency = tenancy.agency_for_host(host)
        if agency is None:
            return HttpResponseNotFound("Not found", content_type="text/plain")
        request.agency = agency
        request.urlconf = settings.PORTAL_URLCONF
        # The key-authenticated API answers on every host we serve: calls go on while a portal is off.
        if not agency.is_active and not request.path.startswith(("/" + settings.STATIC_URL.lstrip("/"), "/api/v1/")):
            return render(request, "portal/unavailable.html", {"agency": agency}, status=503)
        return self.get_response(request)


async def _anonymous():
    return AnonymousUser()


class PortalAccountMiddleware:
    """An account is only ever logged in on its own host.

    Session cookies are host-only already; this also refuses a session that
    names an account of another portal (or a console account on a portal).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            expected = request.agency.pk if request.agency else None
            if user.agency_id != expected:
                request.user = AnonymousUser()
                request.auser = _anonymous  # async views ask through auser()
        return self.get_response(request)


def client_ip(request) -> str | None:
    """The address the request came from: REMOTE_ADDR, or behind PORTAL_TRUSTED_PROXY_COUNT proxies the
    X-Forwarded-For entry the outermost trusted proxy appended (entries left of it are the client's to forge)."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.PORTAL_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote  # fewer hops than proxies: not the chain we trust
    candidate = forwarded[-count]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return candidate


class AuditContextMiddleware:
    """Every audit entry recorded while serving a request carries the request's address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit.request_context(ip=client_ip(request)):
            return self.get_response(request)


# What an account that must set two-factor sign-in up may still reach: the setup pages, an authenticator
# app's or a security key's (and the re-authentication they may ask for), its email address (allauth lets
# only a verified address turn two-factor on), and logging out.
MFA_SETUP_VIEWS = {
    "mfa_index",
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "mfa_reauthenticate",
    "mfa_view_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_generate_recovery_codes",
    "account_reauthenticate",
    "account_logout",
    "account_email",
    "account_confirm_email",
    "account_email_verification_sent",
    "favicon",
    "tls_allowed",
}
# The key-authenticated API and Stripe's webhooks answer whoever holds a key or a signature, not a session.
MFA_EXEMPT_PREFIXES = ("/api/", "/" + settings.STATIC_URL.lstrip("/"))
MFA_SETUP_MESSAGE = (
    "Your agency requires two-factor sign-in. Set up an authenticator app or add a security key to continue."
)
MFA_VERIFY_MESSAGE = (
    "Your agency requires two-factor sign-in. Verify your email address first (we sent you a link; "
    "you can send it again below), then set up an authenticator app or a security key."
)


class MFARequiredMiddleware:
    """A signed-in account whose agency requires two-factor sign-in, and that has not set it up, is sent
    to the two-factor page (allauth's mfa_index: an authenticator app or a security key), and reaches
    nothing else until it is done."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or request.path_info.startswith(MFA_EXEMPT_PREFIXES):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in MFA_SETUP_VIEWS and not match.namespace:
            return None
        if getattr(request, "view_as", None) is not None:
            # An agency member viewing as the client: signed in on the console, where the agency's own
            # requirement applied; the view is read-only and could not set up the client's app anyway.
            return None
        if not mfa.mfa_setup_needed(user=user):
            return None
        if mfa.mfa_email_unverified(user=user):
            messages.warning(request, MFA_VERIFY_MESSAGE)
            return redirect("account_email")
        messages.warning(request, MFA_SETUP_MESSAGE)
        return redirect("mfa_index")


# What a view may still post: ending it, and logging out (which ends it too).
VIEW_AS_WRITES = {"view_as:end", "account_logout"}
# The key-authenticated API ignores the session, so a view gives it nothing to guard.
VIEW_AS_UNGUARDED_PREFIXES = ("/api/v1/",)


class ViewAsMiddleware:
    """A portal session opened by "view as client" (agencies.view_as) is read-only and ends after 30 minutes.

    Sets `request.view_as` (the banner reads it; None outside a view). Every non-safe method is refused
    with a plain 403 except ending the view or logging out; a logout is recorded as the view's end.
    After its time the session is logged out and the end recorded as expired.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.view_as = None
        if request.agency is None or request.path.startswith(VIEW_AS_UNGUARDED_PREFIXES):
            return self.get_response(request)
        current = view_as.view_as_session(request=request)
        if current is None:
            return self.get_response(request)
        if timezone.now() >= current.expires_at:
            view_as.view_as_session_end(request=request, how=view_as.EXPIRED)
            messages.info(
                request, f"The view as {current.organization_name} ended after {view_as.SESSION_MINUTES} minutes."
            )
            return redirect("home")
        request.view_as = current
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        name = _url_name(request)
        if name not in VIEW_AS_WRITES:
            return HttpResponseForbidden(
                f"Read-only: you are viewing {current.organization_name} as {current.by_email}. "
                "Nothing can be changed while viewing as a client; end the view first.",
                content_type="text/plain; charset=utf-8",
            )
        if name != "account_logout":
            return self.get_response(request)
        data = request.session.get(view_as.SESSION_KEY)
        response = self.get_response(request)
        if data and not request.user.is_authenticated:  # the logout went through (it flushed the mark)
            view_as.view_as_end_record(data=data, how=view_as.LOGOUT)
        return response


def _url_name(request) -> str | None:
    try:
        return resolve(request.path_info, urlconf=request.urlconf).view_name
    except Resolver404:
        return None

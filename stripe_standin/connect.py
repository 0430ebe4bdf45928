"""Stripe Connect on the stand-in: OAuth (authorize page, token, deauthorize), the Accounts API,
Account Links with a hosted onboarding page, and a control to change an account's state.

A connected account lists its platform in `Account.platforms`: the platform's
key may then act on it with the Stripe-Account header, and its events reach
the platform's Connect webhook endpoints (resources.emit) carrying `account`.
"""

from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import pages, resources as res
from .server import api, deliver
from .state import Account, StripeError, new_id, now

ID = r"([A-Za-z0-9_]+)"
LINK_TTL_SECONDS = 300
CODE_TTL_SECONDS = 300
HOSTED_PREFIXES = ("/oauth/authorize", "/connect/onboard/")


class OAuthError(StripeError):
    """OAuth's own error shape: {"error": "invalid_grant", "error_description": "..."}."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(status, description)
        self.body = {"error": error, "error_description": description}


def _connected(store, platform: Account, account_id: str) -> Account:
    return store.acting_as(platform, account_id)


def _profile_update(account: Account, params: dict) -> None:
    profile = account.profile
    for flag in ("charges_enabled", "payouts_enabled", "details_submitted"):
        if params.get(flag) not in (None, ""):
            profile[flag] = str(params[flag]).lower() == "true"
    if "currently_due" in params:
        due = params["currently_due"]
        profile["currently_due"] = [d for d in (due if isinstance(due, list) else [due]) if d]
    if params.get("disabled_reason") is not None:
        profile["disabled_reason"] = params["disabled_reason"] or None
    if params.get("business_name"):
        profile["business_name"] = params["business_name"]


def _onboarding_complete(account: Account) -> list[dict]:
    account.profile.update(
        details_submitted=True, charges_enabled=True, payouts_enabled=True, currently_due=[], disabled_reason=None
    )
    return res.emit(account, "account.updated", res.account_public(account))


# --- Accounts and Account Links (the platform's key) --------------------------------------


@api.add("POST", "/v1/accounts")
def _account_create(store, platform, match, params, request):
    kind = params.get("type") or "standard"
    if kind not in ("standard", "express", "custom"):
        raise StripeError(400, f"Invalid type: must be one of standard, express, or custom ({kind})", param="type")
    account = Account(
        secret_key="",
        publishable_key="",
        livemode=platform.livemode,
        platforms={platform.id},
        profile={
            "type": kind,
            "email": params.get("email"),
            "country": params.get("country") or "NL",
            "business_name": (params.get("business_profile") or {}).get("name") or "",
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "currently_due": ["business_type", "external_account", "tos_acceptance.date"],
            "disabled_reason": "requirements.past_due",
            "metadata": res._metadata(params),
            "created": now(),
        },
    )
    store.account_add(account)
    return res.account_public(account)


@api.add("GET", f"/v1/accounts/{ID}")
def _account_retrieve(store, platform, match, params, request):
    return res.account_public(_connected(store, platform, match.group(1)))


@api.add("POST", f"/v1/accounts/{ID}")
def _account_update(store, platform, match, params, request):
    account = _connected(store, platform, match.group(1))
    if "metadata" in params:
        account.profile["metadata"] = {**account.profile.get("metadata", {}), **res._metadata(params)}
    return res.account_public(account)


@api.add("POST", "/v1/account_links")
def _account_link_create(store, platform, match, params, request):
    account_id = params.get("account")
    if not account_id:
        raise StripeError(400, "Missing required param: account.", code="parameter_missing", param="account")
    account = _connected(store, platform, account_id)
    if params.get("type") not in ("account_onboarding", "account_update"):
        raise StripeError(400, "Invalid type: must be account_onboarding or account_update.", param="type")
    for name in ("refresh_url", "return_url"):
        if not params.get(name):
            raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
    link_id = new_id("acctlink_", 24)
    created = now()
    store.account_links[link_id] = {
        "account": account.id,
        "refresh_url": params["refresh_url"],
        "return_url": params["return_url"],
        "expires_at": created + LINK_TTL_SECONDS,
        "visited": False,
        "used": False,
    }
    return {
        "object": "account_link",
        "created": created,
        "expires_at": created + LINK_TTL_SECONDS,
        "url": f"{request.public_base()}/connect/onboard/{link_id}",
    }


# --- OAuth (connect.stripe.com) ---------------------------------------------------------


@api.add("POST", "/oauth/token")
def _oauth_token(store, platform, match, params, request):
    if params.get("grant_type") != "authorization_code":
        raise OAuthError(400, "unsupported_grant_type", "Only grant_type=authorization_code is supported here.")
    code = store.oauth_codes.get(params.get("code") or "")
    if code is None or code["used"] or code["expires_at"] < now():
        raise OAuthError(400, "invalid_grant", f"Authorization code does not exist: {params.get('code')}")
    account = store.by_id[code["account"]]
    if account.livemode != platform.livemode:
        raise OAuthError(400, "invalid_grant", "This authorization code was made for the other mode (test/live).")
    code["used"] = True
    account.platforms.add(platform.id)
    return {
        "access_token": new_id(f"sk_{account.mode}_", 24),  # a dummy: the portal must not keep it
        "refresh_token": new_id("rt_", 24),
        "token_type": "bearer",
        "livemode": account.livemode,
        "scope": code["scope"],
        "stripe_user_id": account.id,
        "stripe_publishable_key": account.publishable_key,
    }


@api.add("POST", "/oauth/deauthorize")
def _oauth_deauthorize(store, platform, match, params, request):
    if not params.get("client_id"):
        raise OAuthError(400, "invalid_request", "No client_id provided.")
    account = store.by_id.get(params.get("stripe_user_id") or "")
    if account is None or platform.id not in account.platforms:
        raise OAuthError(
            400,
            "invalid_client",
            f"This application is not connected to stripe account {params.get('stripe_user_id')}.",
        )
    application = {"id": params["client_id"], "object": "application", "name": None}
    # Told to the platform's Connect endpoints while it is still connected; then its access ends.
    request.pending += res.emit(account, "account.application.deauthorized", application)
    account.platforms.discard(platform.id)
    return {"stripe_user_id": account.id}


# --- Controls (what the account holder does on Stripe; not Stripe's API) -----------------------


@api.add("POST", f"/_standin/accounts/{ID}/update")
def _account_state_set(store, platform, match, params, request):
    """Change a connected account's state (charges_enabled, currently_due[]...) and emit account.updated."""
    account = _connected(store, platform, match.group(1))
    _profile_update(account, params)
    request.pending += res.emit(account, "account.updated", res.account_public(account))
    return res.account_public(account)


@api.add("POST", f"/_standin/accounts/{ID}/onboard")
def _account_onboard(store, platform, match, params, request):
    """Complete the account's onboarding, as if its holder had filled in Stripe's hosted form."""
    account = _connected(store, platform, match.group(1))
    request.pending += _onboarding_complete(account)
    return res.account_public(account)


# --- Hosted pages -------------------------------------------------------------------------


def hosted(handler, method: str, path: str) -> None:
    """GET/POST of the OAuth authorize page and the onboarding page (HTML, redirects)."""
    store = handler.server.store
    query = dict(parse_qsl(urlsplit(handler.path).query))
    form = {}
    if method == "POST":
        form = dict(parse_qsl(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()))
    pending: list[dict] = []
    with store.lock:
        if path == "/oauth/authorize":
            status, body, location = _authorize(store, method, {**query, **form})
        elif path.startswith("/connect/onboard/"):
            status, body, location, pending = _onboard(store, method, path.rsplit("/", 1)[-1])
        else:
            status, body, location = 404, pages.not_found(), None
    deliver(pending)
    if location:
        return handler._send(303, b"", "text/plain", {"Location": location})
    handler._send(status, body.encode(), "text/html; charset=utf-8")


def _with_query(url: str, params: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _authorize(store, method: str, params: dict):
    redirect_uri = params.get("redirect_uri") or ""
    if not params.get("client_id") or not redirect_uri.startswith(("http://", "https://")):
        return 400, pages.error("This Connect link lacks a client_id or a redirect_uri."), None
    state = params.get("state") or ""
    if method == "GET":
        hidden = "".join(
            f"<input type='hidden' name='{escape(k)}' value='{escape(params.get(k) or '')}'>"
            for k in ("client_id", "state", "redirect_uri", "scope")
        )
        cancel = _with_query(
            redirect_uri,
            {"error": "access_denied", "error_description": "The user denied your request", "state": state},
        )
        body = (
            "<h1>Connect your Stripe account</h1><p>A platform asks to take payments on your Stripe account.</p>"
            f"<form method='post' action='/oauth/authorize'>{hidden}"
            "<label>Business name <input name='business_name' value='Test business'></label>"
            "<button type='submit' data-testid='oauth-connect'>Connect test account</button></form>"
            f"<p><a href='{escape(cancel)}' data-testid='oauth-cancel'>Cancel</a></p>"
        )
        return 200, pages.page("Connect with Stripe", body), None
    account = store.account_create()
    account.profile.update(business_name=params.get("business_name") or "Test business", type="standard")
    code = new_id("ac_", 24)
    store.oauth_codes[code] = {
        "account": account.id,
        "client_id": params["client_id"],
        "scope": params.get("scope") or "read_write",
        "expires_at": now() + CODE_TTL_SECONDS,
        "used": False,
    }
    return (
        303,
        "",
        _with_query(redirect_uri, {"code": code, "scope": params.get("scope") or "read_write", "state": state}),
    )


def _onboard(store, method: str, link_id: str):
    link = store.account_links.get(link_id)
    if link is None:
        return 404, pages.not_found(), None, []
    if method == "GET":
        if link["visited"] or link["expires_at"] < now():
            return 303, "", link["refresh_url"], []  # as on Stripe: a used or expired link goes to refresh_url
        link["visited"] = True
        account = store.by_id[link["account"]]
        due = ", ".join(account.profile.get("currently_due", [])) or "nothing"
        body = (
            f"<h1>Set up payments</h1><p>Stripe needs: {escape(due)}.</p>"
            f"<form method='post' action='/connect/onboard/{escape(link_id)}'>"
            "<button type='submit' data-testid='onboarding-submit'>Submit details</button></form>"
            f"<p><a href='{escape(link['return_url'])}' data-testid='onboarding-leave'>Save and return later</a></p>"
        )
        return 200, pages.page("Stripe onboarding", body), None, []
    if link["used"] or not link["visited"] or link["expires_at"] < now():
        return 303, "", link["refresh_url"], []
    link["used"] = True
    pending = _onboarding_complete(store.by_id[link["account"]])
    return 303, "", link["return_url"], pending

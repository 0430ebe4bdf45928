"""Restricted keys (rk_...): a key of an account that may do only what its permissions say.

`POST /_standin/restricted_keys` (authorised with the account's secret key)
makes one from `permissions[]=products:write` style names: `<resource>:read` or
`<resource>:write` (write includes read). Every API route needs the permission
of its resource (GET reads, other methods write); a restricted key without it
gets Stripe's 403 permission error. GET /v1/account needs none.
"""

import re

from .state import Account, StripeError, new_id

# The first path segment after /v1/ (or the two for checkout) -> the resource a key needs.
RESOURCES = {
    "products": "products",
    "prices": "prices",
    "checkout": "checkout_sessions",
    "customers": "customers",
    "webhook_endpoints": "webhook_endpoints",
    "charges": "charges",
    "payment_intents": "payment_intents",
    "payment_methods": "payment_methods",
    "setup_intents": "setup_intents",
    "balance_transactions": "balance",
    "refunds": "refunds",
    "disputes": "disputes",
    "events": "events",
    "accounts": "accounts",
    "account_links": "accounts",
}
ACCESS = ("read", "write")


def restricted_key_create(store, account: Account, permissions: list[str]) -> str:
    """A new rk_ key acting on `account` with exactly `permissions`; unknown names are refused."""
    for permission in permissions:
        resource, _, access = str(permission).partition(":")
        if resource not in RESOURCES.values() or access not in ACCESS:
            raise StripeError(400, f"Unknown permission: {permission}.", param="permissions")
    key = new_id(f"rk_{account.mode}_", 24)
    store.restricted_keys[key] = (account, frozenset(str(p) for p in permissions))
    return key


def required(method: str, path: str) -> str | None:
    """The permission a request needs, or None (the account itself, stand-in controls)."""
    match = re.match(r"^/v1/([a-z_]+)", path)
    if match is None or match.group(1) not in RESOURCES:
        return None
    return f"{RESOURCES[match.group(1)]}:{'read' if method == 'GET' else 'write'}"


def permission_check(store, authorization: str | None, method: str, path: str) -> None:
    """Refuse, as Stripe does, a restricted key that lacks what the request needs."""
    key = (authorization or "")[len("Bearer ") :].strip()
    found = store.restricted_keys.get(key)
    needed = required(method, path)
    if found is None or needed is None:
        return
    account, permissions = found
    resource, _, access = needed.partition(":")
    if needed in permissions or (access == "read" and f"{resource}:write" in permissions):
        return
    masked = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
    raise StripeError(
        403,
        f"The provided key '{masked}' does not have the required permissions for this endpoint on account "
        f"'{account.id}'. Having the '{needed}' permission would allow this request to continue.",
        type="invalid_request_error",
    )

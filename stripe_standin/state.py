"""In-memory state of the stand-in: one account per secret key.

Nothing is persisted: a restarted stand-in is an empty Stripe. Objects live
in the account whose key created them; another key gets 404, as on Stripe.
"""

import secrets
import string
import threading
import time
from dataclasses import dataclass, field

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


class StripeError(Exception):
    """An error answered in Stripe's JSON shape: {"error": {...}} with a 4xx status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.body: dict = {
            "error": {
                k: v
                for k, v in {
                    "type": type,
                    "message": message,
                    "code": code,
                    "param": param,
                }.items()
                if v is not None
            }
        }


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


@dataclass
class Account:
    secret_key: str  # "" for a connected account created through the Accounts API (no keys of its own)
    publishable_key: str
    livemode: bool
    id: str = field(default_factory=lambda: new_id("acct_", 16))
    # The platform accounts (by id) that may act on this one with the Stripe-Account header.
    platforms: set = field(default_factory=set)
    # What GET /v1/account answers besides id (business_profile, charges_enabled, requirements...).
    profile: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)  # id -> dict (every object type)
    events: list = field(default_factory=list)
    deliveries: list = field(default_factory=list)
    idempotency: dict = field(default_factory=dict)  # key -> (path, params fingerprint, status, body)
    # The store's accounts by id (set by the store): a connected account's events reach its platforms' endpoints.
    directory: dict = field(default_factory=dict, repr=False)

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"

    def get(self, kind: str, object_type: str, object_id: str, param: str = "id") -> dict:
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != object_type or obj.get("deleted"):
            raise missing(kind, object_id, param)
        return obj

    def of_type(self, object_type: str) -> list[dict]:
        return [o for o in self.objects.values() if o.get("object") == object_type and not o.get("deleted")]


class Store:
    """Every account, and an index from a hosted-page session id to its account."""

    def __init__(self):
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}  # by secret key
        self.by_id: dict[str, Account] = {}  # every account, by acct_ id (connected ones have no key)
        self.session_accounts: dict[str, Account] = {}
        # pi_/seti_ id -> its account, for the hosted authentication page (stripe_standin.authenticate)
        self.page_accounts: dict[str, Account] = {}
        # rk_ key -> (its account, its permissions): stripe_standin.keys
        self.restricted_keys: dict[str, tuple[Account, frozenset]] = {}
        # Stripe Connect (stripe_standin.connect): OAuth codes and Account Links, by their code / id.
        self.oauth_codes: dict[str, dict] = {}
        self.account_links: dict[str, dict] = {}

    def account_add(self, account: Account) -> Account:
        """Index an account made elsewhere (a connected account created through the Accounts API)."""
        with self.lock:
            if account.secret_key:
                self.accounts[account.secret_key] = account
            self.by_id[account.id] = account
            account.directory = self.by_id
            return account

    def account_create(self, secret_key: str | None = None, livemode: bool = False) -> Account:
        with self.lock:
            if secret_key and secret_key in self.accounts:
                return self.accounts[secret_key]
            if secret_key:
                livemode = "_live_" in secret_key
            mode = "live" if livemode else "test"
            suffix = new_id("", 24)
            account = Account(
                secret_key=secret_key or f"sk_{mode}_{suffix}",
                publishable_key=f"pk_{mode}_{suffix}",
                livemode=livemode,
            )
            return self.account_add(account)

    def account_for_key(self, authorization: str | None) -> Account:
        if not authorization or not authorization.startswith("Bearer "):
            raise StripeError(
                401,
                "You did not provide an API key. Provide it in the Authorization header "
                "(Authorization: Bearer YOUR_SECRET_KEY).",
            )
        key = authorization[len("Bearer ") :].strip()
        account = self.accounts.get(key) or self.restricted_keys.get(key, (None,))[0]
        if account is None:
            masked = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else "****"
            raise StripeError(401, f"Invalid API Key provided: {masked}")
        return account

    def acting_as(self, account: Account, stripe_account: str | None) -> Account:
        """The account a request works on: the key's own, or (Stripe-Account header) one connected to it."""
        if not stripe_account:
            return account
        connected = self.by_id.get(stripe_account)
        if connected is None or (connected is not account and account.id not in connected.platforms):
            raise StripeError(
                403,
                f"The provided key does not have access to account '{stripe_account}' (or that account does "
                "not exist). Application access may have been revoked.",
                type="invalid_request_error",
                code="account_invalid",
            )
        return connected

"""The Stripe stand-in for tests: a real HTTP server on a free port, reached through
the real `stripe` package (STRIPE_API_BASE points at it). Import the fixtures
into a conftest.py to use them."""

import json
import re
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from stripe.params import RefundCreateParams

from agencies import services
from stripe_standin import start as standin_start
from stripe_standin.client import call, webhook_endpoint_set

CONNECT_CLIENT_ID = "ca_testplatform00000000000001"
CONNECT_WEBHOOK_SECRET = "whsec_connecttest0000000000000000"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class StandInAccount:
    """One Stripe account on the stand-in, and what its customers and their banks can do."""

    def __init__(self, base_url: str, secret_key: str):
        self.base_url = base_url
        self.secret_key = secret_key
        self.client = stripe.StripeClient(secret_key, base_addresses={"api": base_url})

    def call(self, path: str, params: dict | None = None, method: str = "POST") -> dict:
        return call(self.base_url, path, params, key=self.secret_key, method=method)

    def pay(self, session_id: str, *, delayed: bool = False, amount_total: int | None = None) -> str:
        """Press Pay on the hosted checkout page, as a browser does; returns where it redirects."""
        form = {"method": "delayed" if delayed else "card"}
        if amount_total is not None:
            form["amount_total"] = str(amount_total)
        request = urllib.request.Request(f"{self.base_url}/c/pay/{session_id}", data=urlencode(form).encode())
        try:
            urllib.request.build_opener(_NoRedirect).open(request)
        except urllib.error.HTTPError as exc:
            assert exc.code == 303, exc.read()  # noqa: PT017 -- a helper, not a test
            return exc.headers["Location"]
        raise AssertionError("the checkout page did not redirect")

    def save_payment_method(self, session_id: str, payment_method: str = "pm_card_visa") -> str:
        """Choose a test card (a token such as pm_card_chargeDeclined, or pm_sepa_debit) on a setup-mode
        session's hosted page and press Save, as a browser does; returns where it redirects (success_url)."""
        status, page, location = browser_get(f"{self.base_url}/c/pay/{session_id}", {"payment_method": payment_method})
        assert status == 303, page
        return location

    def authenticate(self, url: str, *, complete: bool = True) -> str:
        """On the 3-D Secure page (next_action.redirect_to_url.url) press Complete (or Fail) authentication,
        as a browser does; returns where it redirects (return_url?payment_intent=...&redirect_status=...)."""
        status, page, location = browser_get(url, {"outcome": "complete" if complete else "fail"})
        assert status == 303, page
        return location

    def settle_payment(self, payment_intent_id: str, *, succeeded: bool = True) -> dict:
        """The bank decides a processing (SEPA) PaymentIntent: payment_intent.succeeded or payment_failed."""
        return self.call(
            f"/_standin/payment_intents/{payment_intent_id}/settle", {"outcome": "succeeded" if succeeded else "failed"}
        )

    def settle(self, session_id: str, *, succeeded: bool) -> dict:
        return self.call(
            f"/_standin/checkout/sessions/{session_id}/settle", {"outcome": "succeeded" if succeeded else "failed"}
        )

    def refund(self, payment_intent: str, amount: int | None = None):
        params: RefundCreateParams = {"payment_intent": payment_intent}
        if amount is not None:
            params["amount"] = amount
        return self.client.v1.refunds.create(params)

    def dispute(self, charge_id: str) -> dict:
        return self.call(f"/_standin/charges/{charge_id}/dispute")

    def close_dispute(self, dispute_id: str, status: str) -> dict:
        return self.call(f"/_standin/disputes/{dispute_id}/close", {"status": status})

    def deliveries(self, event_type: str | None = None) -> list[dict]:
        """Every signed webhook delivery the account made, oldest first."""
        params = {"type": event_type} if event_type else {}
        return self.call("/_standin/deliveries", params, method="GET")["data"]

    def last_delivery(self, event_type: str) -> dict:
        found = self.deliveries(event_type)
        assert found, f"the stand-in sent no {event_type}"
        return found[-1]


@pytest.fixture(scope="session")
def stripe_standin():
    server = standin_start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def stripe_base(settings, stripe_standin):
    settings.STRIPE_API_BASE = stripe_standin.url
    return stripe_standin.url


@pytest.fixture
def stripe_account(stripe_base):
    """A fresh Stripe account on the stand-in: make(live=False) -> StandInAccount."""

    def make(*, live: bool = False) -> StandInAccount:
        created = call(stripe_base, "/_standin/accounts", {"livemode": "true" if live else "false"})
        return StandInAccount(stripe_base, created["secret_key"])

    return make


@pytest.fixture
def stripe_agency(make_agency, stripe_account):
    """An active agency whose Stripe settings are a real account on the stand-in.

    Its product and price (4000 EUR, one-time) match its 100-credit package,
    and a webhook endpoint is registered; Stripe's deliveries to it fail (the
    URL is a closed port), so tests post them to the portal themselves.
    """

    def make(*, live: bool = False, **kwargs):
        agency = make_agency(active=True, **kwargs)
        account = stripe_account(live=live)
        product = account.client.v1.products.create({"name": "Call credits"})
        price = account.client.v1.prices.create({"currency": "eur", "unit_amount": 4000, "product": product.id})
        endpoint = account.client.v1.webhook_endpoints.create(
            {
                "url": f"http://127.0.0.1:{closed_port()}/api/webhooks/stripe/{agency.slug}",
                "enabled_events": ["*"],
            }
        )
        mode = "live" if live else "test"
        services.agency_update_stripe(
            agency=agency,
            data={
                "stripe_publishable_key": f"pk_{mode}_abcdefgh1234",
                "stripe_secret_key": account.secret_key,
                "stripe_product_id": product.id,
                "stripe_price_id": price.id,
                "stripe_webhook_secret": endpoint.secret,
            },
        )
        agency.refresh_from_db()
        agency.stripe = account
        agency.admin = agency.admins.get()
        return agency

    return make


@pytest.fixture
def keyed_agency(make_agency, stripe_account):
    """An agency set up the "one key" way: a fresh stand-in account, a 100-credit package, the key saved
    and provisioned by the portal (product, price, webhook endpoint), not yet live.

    make(live=False, packages=((credits, price_cents, currency), ...), **make_agency's arguments).
    """
    from billing import provisioning

    def make(*, live: bool = False, packages=((100, 4000, "EUR"),), **kwargs):
        agency = make_agency(**kwargs)
        for credits, price_cents, currency in packages:
            services.package_create(agency=agency, credits=credits, price_cents=price_cents, currency=currency)
        account = stripe_account(live=live)
        agency.refresh_from_db()
        agency.report = provisioning.stripe_key_set(agency=agency, secret_key=account.secret_key)
        admin = agency.admin
        agency.refresh_from_db()
        agency.stripe, agency.admin = account, admin
        return agency

    return make


# --- Stripe Connect ---------------------------------------------------------------


class ConnectedStandInAccount(StandInAccount):
    """A connected account, reached with the platform's key and the Stripe-Account header."""

    def __init__(self, base_url: str, platform_key: str, account_id: str):
        super().__init__(base_url, platform_key)
        self.account_id = account_id
        self.client = stripe.StripeClient(platform_key, stripe_account=account_id, base_addresses={"api": base_url})

    def call(self, path: str, params: dict | None = None, method: str = "POST") -> dict:
        data = urlencode(params or {}).encode() if method == "POST" else None
        url = self.base_url + path + ("" if method == "POST" or not params else "?" + urlencode(params))
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.secret_key}")
        request.add_header("Stripe-Account", self.account_id)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def update(self, **state) -> dict:
        """Change the account as its holder or Stripe would (charges_enabled, currently_due...); emits account.updated."""
        params = {k: ("true" if v is True else "false" if v is False else v) for k, v in state.items()}
        return call(self.base_url, f"/_standin/accounts/{self.account_id}/update", params, key=self.secret_key)

    def onboard(self) -> dict:
        return call(self.base_url, f"/_standin/accounts/{self.account_id}/onboard", key=self.secret_key)


def browser_get(url: str, data: dict | None = None) -> tuple[int, str, str]:
    """GET (or POST a form to) a stand-in page as a browser does: (status, body, redirect location)."""
    request = urllib.request.Request(url, data=urlencode(data).encode() if data is not None else None)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request) as response:
            return response.status, response.read().decode(), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("Location") or ""


def oauth_consent(authorize_url: str, *, business_name: str = "Test business", cancel: bool = False) -> str:
    """Open Stripe's authorize page and press Connect (or Cancel); returns where the browser is sent back."""
    status, page, _ = browser_get(authorize_url)
    assert status == 200, page
    if cancel:
        found = re.search(r"href='([^']+)' data-testid='oauth-cancel'", page)
        assert found
        return found.group(1).replace("&amp;", "&")
    form = dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", page))
    form = {k: v.replace("&amp;", "&") for k, v in form.items()}
    base = authorize_url.split("/oauth/authorize")[0]
    status, page, location = browser_get(f"{base}/oauth/authorize", {**form, "business_name": business_name})
    assert status == 303, page
    return location


@pytest.fixture
def stripe_platform(settings, stripe_account):
    """The platform's Stripe account with Connect switched on.

    Its Connect endpoint points at a closed port: tests hand the deliveries to
    the portal themselves (connect_deliver).
    """
    platform = stripe_account()
    settings.PLATFORM_STRIPE_SECRET_KEY = platform.secret_key
    settings.STRIPE_CONNECT_CLIENT_ID = CONNECT_CLIENT_ID
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = CONNECT_WEBHOOK_SECRET
    webhook_endpoint_set(
        platform.base_url,
        platform.secret_key,
        url=f"http://127.0.0.1:{closed_port()}/api/webhooks/stripe/connect",
        signing_secret=CONNECT_WEBHOOK_SECRET,
        events=["*"],
        connect=True,
    )
    return platform


@pytest.fixture
def connected_agency(make_agency, stripe_platform):
    """An agency with a Stripe account connected through Connect (onboarded unless onboarded=False).

    agency.stripe acts on the connected account; agency.platform is the platform's account.
    """
    from billing import connect

    def make(*, onboarded: bool = True, active: bool | None = None, **kwargs):
        agency: Any = make_agency(**kwargs)
        services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
        created = stripe_platform.client.v1.accounts.create(
            {"type": "standard", "business_profile": {"name": "Acme Calls"}}
        )
        account = ConnectedStandInAccount(stripe_platform.base_url, stripe_platform.secret_key, created.id)
        if onboarded:
            account.onboard()
        agency = connect.account_connect(agency=agency, account_id=created.id)
        if active if active is not None else onboarded:
            assert services.agency_set_active(agency=agency, active=True) == []
            agency.refresh_from_db()
        agency.stripe = account
        agency.platform = stripe_platform
        agency.admin = agency.admins.get()
        return agency

    return make

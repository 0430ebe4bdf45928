"""The Stripe stand-in for tests: a real HTTP server on a free port, reached through
the real `stripe` package (STRIPE_API_BASE points at it). Import the fixtures
into a conftest.py to use them."""

import socket
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
import stripe
from stripe.params import RefundCreateParams

from agencies import services
from stripe_standin import start as standin_start
from stripe_standin.client import call


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

    make(key=None, live=False): `key` is another key of the account to save instead (a restricted key).
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

"""The HTTP side of the stand-in: Stripe's REST routes, a hosted checkout page,
a few /_standin/ controls for what only a customer or a bank can do on Stripe,
and webhook delivery."""

import hashlib
import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import (
    authenticate,
    customers as cus,
    endpoints,
    events,
    expand,
    keys,
    pages,
    payment_methods,
    payments,
    refunds,
    resources as res,
    setup,
)
from .forms import decode_form
from .state import Store, StripeError, new_id

DELIVERY_TIMEOUT_SECONDS = 10


def deliver(deliveries: list[dict]) -> None:
    """POST each signed event to its endpoint, as Stripe does, and record the answer."""
    for delivery in deliveries:
        request = urllib.request.Request(
            delivery["url"],
            data=delivery["payload"].encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": delivery["signature"],
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
                delivery["status"] = response.status
        except urllib.error.HTTPError as exc:
            delivery["status"] = exc.code
        except OSError as exc:  # refused, unreachable, timed out
            delivery["error"] = str(exc)


class Router:
    """(method, regex) -> handler(match, params, account)."""

    def __init__(self):
        self.routes = []

    def add(self, method: str, pattern: str, *, auth: bool = True):
        def register(func):
            self.routes.append((method, re.compile(f"^{pattern}$"), auth, func))
            return func

        return register

    def find(self, method: str, path: str):
        allowed = False
        for route_method, regex, auth, func in self.routes:
            match = regex.match(path)
            if match:
                if route_method == method:
                    return func, match, auth
                allowed = True
        raise StripeError(405 if allowed else 404, f"Unrecognized request URL ({method}: {path}).")


api = Router()
ID = r"([A-Za-z0-9_]+)"


def _retrieve(kind: str, object_type: str):
    def handler(store, account, match, params, request):
        return res.public(account.get(kind, object_type, match.group(1)))

    return handler


for _path, _kind, _type in [
    ("products", "product", "product"),
    ("prices", "price", "price"),
    ("checkout/sessions", "checkout.session", "checkout.session"),
    ("payment_intents", "payment_intent", "payment_intent"),
    ("charges", "charge", "charge"),
    ("refunds", "refund", "refund"),
    ("disputes", "dispute", "dispute"),
    ("events", "event", "event"),
    ("webhook_endpoints", "webhook_endpoint", "webhook_endpoint"),
    ("balance_transactions", "balance_transaction", "balance_transaction"),
]:
    api.add("GET", f"/v1/{_path}/{ID}")(_retrieve(_kind, _type))


def _list(path: str, object_type: str):
    def handler(store, account, match, params, request):
        return res.listing(path, [res.public(o) for o in account.of_type(object_type)])

    return handler


def _filtered(objects: list[dict], params: dict, names: tuple[str, ...]) -> list[dict]:
    """Stripe's list filters: product=, active=true|false, ..."""
    for name in names:
        if params.get(name) not in (None, ""):
            wanted = params[name]
            if name == "active":
                objects = [o for o in objects if o.get("active") == (wanted == "true")]
            else:
                objects = [o for o in objects if o.get(name) == wanted]
    return objects


@api.add("GET", "/v1/products")
def _product_list(store, account, match, params, request):
    return res.listing(
        "/v1/products", [res.public(o) for o in _filtered(account.of_type("product"), params, ("active",))]
    )


@api.add("GET", "/v1/prices")
def _price_list(store, account, match, params, request):
    prices = _filtered(account.of_type("price"), params, ("product", "active", "currency"))
    return res.listing("/v1/prices", [res.public(o) for o in prices])


@api.add("POST", f"/v1/products/{ID}")
def _product_update(store, account, match, params, request):
    return endpoints.object_update(
        account.get("product", "product", match.group(1)), params, ("name", "active", "metadata")
    )


@api.add("POST", f"/v1/prices/{ID}")
def _price_update(store, account, match, params, request):
    return endpoints.object_update(
        account.get("price", "price", match.group(1)), params, ("active", "metadata", "nickname")
    )


@api.add("POST", f"/v1/webhook_endpoints/{ID}")
def _endpoint_update(store, account, match, params, request):
    endpoint = account.get("webhook_endpoint", "webhook_endpoint", match.group(1))
    return res.public(endpoints.webhook_endpoint_update(endpoint, params))


@api.add("POST", "/_standin/restricted_keys")
def _restricted_key_create(store, account, match, params, request):
    """A restricted key of the calling account with the permissions given (stripe_standin.keys)."""
    permissions = params.get("permissions") or []
    if not isinstance(permissions, list):
        permissions = [permissions]
    key = keys.restricted_key_create(store, account, permissions)
    return {"object": "standin.restricted_key", "secret_key": key, "account": account.id, "permissions": permissions}


@api.add("POST", "/v1/products")
def _product_create(store, account, match, params, request):
    return res.product_create(account, params)


@api.add("POST", "/v1/prices")
def _price_create(store, account, match, params, request):
    return res.price_create(account, params)


@api.add("POST", "/v1/checkout/sessions")
def _session_create(store, account, match, params, request):
    create = setup.session_create if params.get("mode") == "setup" else res.session_create
    session = create(account, params, request.public_base())
    store.session_accounts[session["id"]] = account
    return res.public(session)


@api.add("GET", f"/v1/checkout/sessions/{ID}/line_items")
def _session_line_items(store, account, match, params, request):
    session = account.get("checkout.session", "checkout.session", match.group(1))
    return res.listing(f"/v1/checkout/sessions/{session['id']}/line_items", session["_line_items"])


@api.add("POST", f"/v1/checkout/sessions/{ID}/expire")
def _session_expire(store, account, match, params, request):
    session = account.get("checkout.session", "checkout.session", match.group(1))
    request.pending += res.session_expire(account, session)
    return res.public(session)


@api.add("POST", "/v1/refunds")
def _refund_create(store, account, match, params, request):
    refund, pending = refunds.refund_create(account, params)
    request.pending += pending
    return refund


@api.add("POST", "/v1/webhook_endpoints")
def _endpoint_create(store, account, match, params, request):
    return endpoints.webhook_endpoint_create(account, params)


@api.add("GET", "/v1/webhook_endpoints")
def _endpoint_list(store, account, match, params, request):
    return res.listing("/v1/webhook_endpoints", [res.public(e) for e in account.of_type("webhook_endpoint")])


@api.add("DELETE", f"/v1/webhook_endpoints/{ID}")
def _endpoint_delete(store, account, match, params, request):
    return endpoints.webhook_endpoint_delete(account, match.group(1))


@api.add("POST", "/v1/customers")
def _customer_create(store, account, match, params, request):
    return cus.customer_create(account, params, request.pending)


@api.add("GET", "/v1/customers")
def _customer_list(store, account, match, params, request):
    return res.listing("/v1/customers", account.of_type("customer"))


@api.add("GET", f"/v1/customers/{ID}")
def _customer_retrieve(store, account, match, params, request):
    return account.get("customer", "customer", match.group(1))


@api.add("POST", f"/v1/customers/{ID}")
def _customer_update(store, account, match, params, request):
    return cus.customer_update(account, account.get("customer", "customer", match.group(1)), params)


@api.add("GET", f"/v1/customers/{ID}/tax_ids")
def _tax_id_list(store, account, match, params, request):
    customer = account.get("customer", "customer", match.group(1))
    return res.listing(f"/v1/customers/{customer['id']}/tax_ids", cus.tax_ids_of(account, customer))


@api.add("POST", f"/v1/customers/{ID}/tax_ids")
def _tax_id_create(store, account, match, params, request):
    return cus.tax_id_create(account, account.get("customer", "customer", match.group(1)), params)


@api.add("DELETE", f"/v1/customers/{ID}/tax_ids/{ID}")
def _tax_id_delete(store, account, match, params, request):
    return cus.tax_id_delete(account, account.get("customer", "customer", match.group(1)), match.group(2))


@api.add("GET", "/v1/account")
def _account_retrieve(store, account, match, params, request):
    return res.account_public(account)


events.routes_add(api)  # GET /v1/events with Stripe's filters; dropping deliveries on purpose
payment_methods.routes_add(api)  # test tokens, attach/detach, a customer's methods
payments.routes_add(api)  # PaymentIntents made through the API, on or off session
setup.routes_add(api)  # SetupIntents, and saving a method in a setup-mode Checkout Session


# --- Controls for what the customer or the bank does (not Stripe's API) ----------


@api.add("POST", "/_standin/accounts", auth=False)
def _account_create(store, account, match, params, request):
    created = store.account_create(params.get("secret_key") or None, params.get("livemode") == "true")
    return {
        "object": "standin.account",
        "id": created.id,
        "secret_key": created.secret_key,
        "publishable_key": created.publishable_key,
        "livemode": created.livemode,
    }


@api.add("GET", "/_standin/health", auth=False)
def _health(store, account, match, params, request):
    return {"ok": True}


@api.add("GET", "/_standin/deliveries")
def _deliveries(store, account, match, params, request):
    rows = [
        d
        for d in account.deliveries
        if (not params.get("type") or d["type"] == params["type"])
        and (not params.get("event") or d["event"] == params["event"])
    ]
    return res.listing("/_standin/deliveries", rows)


@api.add("POST", "/_standin/webhook_endpoints")
def _endpoint_create_with_secret(store, account, match, params, request):
    """An endpoint whose signing secret is the one given (a platform whose secret is a setting)."""
    secret = str(_required_param(params, "secret"))
    for endpoint in account.of_type("webhook_endpoint"):
        if endpoint["url"] == params.get("url"):
            endpoint["deleted"] = True
    return endpoints.webhook_endpoint_create(account, params, secret=secret)


def _required_param(params: dict, name: str):
    if not params.get(name):
        raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
    return params[name]


@api.add("POST", f"/_standin/checkout/sessions/{ID}/pay")
def _session_pay(store, account, match, params, request):
    session = account.get("checkout.session", "checkout.session", match.group(1))
    amount = int(params["amount_total"]) if params.get("amount_total") else None
    request.pending += res.session_pay(account, session, delayed=params.get("method") == "delayed", amount_total=amount)
    return res.public(session)


@api.add("POST", f"/_standin/checkout/sessions/{ID}/settle")
def _session_settle(store, account, match, params, request):
    session = account.get("checkout.session", "checkout.session", match.group(1))
    request.pending += res.session_settle(account, session, succeeded=params.get("outcome") == "succeeded")
    return res.public(session)


@api.add("POST", f"/_standin/charges/{ID}/dispute")
def _dispute_create(store, account, match, params, request):
    dispute, pending = refunds.dispute_create(account, account.get("charge", "charge", match.group(1)), params)
    request.pending += pending
    return dispute


@api.add("POST", f"/_standin/disputes/{ID}/close")
def _dispute_close(store, account, match, params, request):
    dispute = account.get("dispute", "dispute", match.group(1))
    request.pending += refunds.dispute_close(account, dispute, params.get("status", ""))
    return dispute


class Handler(BaseHTTPRequestHandler):
    server_version = "StripeStandIn/1.0"
    pending: list
    server: "StandInServer"

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)

    def public_base(self) -> str:
        return self.server.public_url or f"http://{self.headers.get('Host') or '127.0.0.1'}"

    def _read_params(self) -> dict:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        return decode_form("&".join(part for part in (split.query, body) if part))

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", new_id("req_", 14))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload, indent=2).encode(), "application/json")

    def _handle(self, method: str) -> None:
        self.pending = []
        path = urlsplit(self.path).path
        try:
            if path.startswith("/c/pay/"):
                return self._hosted_page(method, path)
            if path.startswith(connect.HOSTED_PREFIXES):
                return connect.hosted(self, method, path)
            if path.startswith(authenticate.PREFIX):
                return authenticate.hosted(self, method, path)
            params = self._read_params()
            func, match, auth = api.find(method, path)
            store = self.server.store
            with store.lock:
                account = store.account_for_key(self.headers.get("Authorization")) if auth else None
                if account is not None:
                    keys.permission_check(store, self.headers.get("Authorization"), method, path)
                    account = store.acting_as(account, self.headers.get("Stripe-Account"))
                    self.pending += events.sessions_expire_due(account)  # Stripe expires them on time
                status, payload = self._idempotent(account, method, path, params, func, match)
                payload = expand.answer_expand(account, params, payload)
        except StripeError as exc:
            return self._json(exc.status, exc.body)
        deliver(self.pending)  # after the lock: the receiver may call back into us
        self._json(status, payload)

    def _idempotent(self, account, method, path, params, func, match):
        key = self.headers.get("Idempotency-Key") if method == "POST" and account else None
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        if key and key in account.idempotency:
            saved_path, saved_fingerprint, status, payload = account.idempotency[key]
            if saved_path != path:
                raise StripeError(
                    400,
                    f"Keys for idempotent requests can only be used for the same endpoint they were first used for "
                    f"('{path}' vs '{saved_path}'). Try using a key other than '{key}' if you meant to execute a "
                    "different request.",
                    type="idempotency_error",
                )
            if saved_fingerprint != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    type="idempotency_error",
                )
            return status, payload
        try:
            status, payload = 200, func(self.server.store, account, match, params, self)
        except StripeError as exc:
            status, payload = exc.status, exc.body
        if key:
            account.idempotency[key] = (path, fingerprint, status, payload)
        return status, payload

    def _hosted_page(self, method: str, path: str) -> None:
        store = self.server.store
        match = re.match(r"^/c/pay/([A-Za-z0-9_]+)(/settle)?$", path)
        account = store.session_accounts.get(match.group(1)) if match else None
        if match is None or account is None:
            return self._send(404, pages.not_found().encode(), "text/html; charset=utf-8")
        if account.objects[match.group(1)]["mode"] == "setup" and not match.group(2):
            return setup.hosted(self, method, account, match.group(1))
        with store.lock:
            session = account.objects[match.group(1)]
            if method == "GET":
                return self._send(200, pages.checkout(session).encode(), "text/html; charset=utf-8")
            form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
            try:
                if match.group(2):
                    self.pending = res.session_settle(account, session, succeeded=form.get("outcome") == "succeeded")
                    target = f"/c/pay/{session['id']}"
                else:
                    amount = int(form["amount_total"]) if form.get("amount_total") else None
                    self.pending = res.session_pay(
                        account, session, delayed=form.get("method") == "delayed", amount_total=amount
                    )
                    target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
            except StripeError as exc:
                return self._send(
                    exc.status, pages.error(exc.body["error"]["message"]).encode(), "text/html; charset=utf-8"
                )
        # Like Stripe, tell the merchant's server before sending the customer back.
        deliver(self.pending)
        self._send(303, b"", "text/plain", {"Location": target})

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, *, public_url: str | None = None, quiet: bool = True):
        super().__init__(address, Handler)
        self.store = Store()
        self.public_url = public_url
        self.quiet = quiet

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # a TCP server's address, not a Unix socket's bytes
        return f"http://{host}:{port}"


def start(host: str = "127.0.0.1", port: int = 0, **options) -> StandInServer:
    """Serve in a background thread; `port=0` picks a free port. Stop with .shutdown()."""
    server = StandInServer((host, port), **options)
    threading.Thread(target=server.serve_forever, name="stripe-standin", daemon=True).start()
    return server


# Connect's routes register on `api` (they import it from here).
from . import connect  # noqa: E402

"""Many hosts, shown: two app servers and two task workers on one PostgreSQL and one Redis, killed midway.

    .venv/bin/python bench/cluster.py                 # 60 s of load; about 2-3 minutes in all
    .venv/bin/python bench/cluster.py --seconds 20    # a quick look

Not a test: a script that prints figures and exits non-zero on any loss or double.
On loopback it starts the Stripe stand-in, two gunicorn servers (as the README
deploys them) and two `manage.py db_worker` processes, every one configured by
its environment only, sharing one fresh PostgreSQL database (created here,
migrated, dropped at the end unless --keep-db) and one Redis (a database number
of its own, --redis-db). It sets up agencies whose Stripe accounts live on the
stand-in (each agency's webhook endpoint points at one of the two servers, as
its Stripe dashboard would name one URL), clients with balances near their
low-balance thresholds, and API keys. Then it drives, for --seconds, a mixed
load round-robin over both servers from several client threads:

- usage batches and single records, each record with an id of its own; a
  request whose connection dropped is sent again, the same records, to the
  other server, as the calling platform would (exactly-once comes from the ids);
- credit purchases: the buy button on the portal, Pay on the stand-in's hosted
  Checkout page (the stand-in then delivers checkout.session.completed to the
  agency's server), then the success page, as a browser follows it;
- Stripe's retries: the stand-in delivers each event once, so a thread here
  plays Stripe's retry schedule, re-signing and re-sending every delivery that
  failed until the portal answers 2xx;
- page views (client usage, report, billing, buy; console overview and
  business; API balance and usage list);
- low-balance alert crossings, which the ops sweep turns into alerts whose
  webhooks a receiver here counts (the email goes to the console backend).

Midway it SIGKILLs one gunicorn (master and workers: its process group) and one
db_worker (waiting a few seconds for it to hold a task first), and restarts both
after --down seconds. At the end it waits (bounded) for the queue to drain, then
checks ledger_check, usage_check, every task, every record, every event and
every crossing, prints the figures, and exits 1 if anything was lost or doubled.
"""

import argparse
import contextlib
import http.client
import importlib
import itertools
import json
import os
import random
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.servers import free_port, gunicorn_command, port_wait  # noqa: E402

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
BATCH = 50
PACKAGE_CREDITS = 300
CLIENT_THRESHOLD = 1000
CLIENT_START = CLIENT_THRESHOLD + 100
AGENCY_START = 100_000
AGENCY_THRESHOLD = AGENCY_START - 3_000


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs (default 60)")
    parser.add_argument("--agencies", type=int, default=4, help="agencies (default 4)")
    parser.add_argument("--clients", type=int, default=5, help="clients per agency (default 5)")
    parser.add_argument("--usage-threads", type=int, default=4, help="threads posting usage (default 4)")
    parser.add_argument("--buyers", type=int, default=2, help="threads buying credits (default 2)")
    parser.add_argument("--viewers", type=int, default=2, help="threads viewing pages (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--down", type=float, default=5, help="seconds the killed processes stay down (default 5)")
    parser.add_argument("--drain", type=float, default=150, help="most seconds to wait for the queue (default 150)")
    parser.add_argument(
        "--database",
        default="portal_clusterbench",
        help="PostgreSQL database to create fresh and drop (default portal_clusterbench)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look afterwards")
    parser.add_argument("--redis-db", type=int, default=11, help="Redis database number (default 11)")
    return parser.parse_args()


ARGS = _parse_args() if __name__ == "__main__" else None


def _database_fresh(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _database_drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


STANDIN_PORT = free_port()
PORTS = [free_port(), free_port()]
RUN = "".join(random.choices(string.ascii_lowercase, k=5))  # slugs of this run: Redis may hold others' keys
# One environment for every process, as the README's deploy sets it on each host.
ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{ARGS.database if ARGS else 'portal_clusterbench'}",
    "REDIS_URL": f"redis://127.0.0.1:6379/{ARGS.redis_db if ARGS else 11}",
    "SECRET_KEY": "cluster-bench-" + "x" * 40,
    "DEBUG": "0",
    "PORTAL_HTTPS": "0",
    "PORTAL_BASE_DOMAIN": "localhost",
    "LOG_LEVEL": "WARNING",
    "STRIPE_API_BASE": f"http://127.0.0.1:{STANDIN_PORT}",
    "API_RATE_LIMIT_PER_MINUTE": str(10**9),
    # Alert webhooks go to a receiver on loopback, which the outbound guard refuses in production.
    "OUTBOUND_ALLOW_PRIVATE_HOSTS": "1",
    # Short intervals so a run of minutes shows recovery: the sweep, the lease of a dead task, the retries.
    "OPS_SWEEP_SECONDS": "3",
    "TASK_LEASE_SECONDS": "30",
    "RETRY_BASE_SECONDS": "2",
    "RETRY_MAX_SECONDS": "10",
    "ALERT_WEBHOOK_TIMEOUT_SECONDS": "2",
    # Every periodic chain runs within a minute, so a run killed after it handed over is marked failed
    # (its lease is over) by the chain's next run, within the drain.
    "RESERVATION_SWEEP_SECONDS": "10",
    "AUTO_RELOAD_SWEEP_SECONDS": "10",
    "STRIPE_CHECK_SWEEP_SECONDS": "10",
    "STRIPE_RECONCILE_MINUTES": "1",
}
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
if ARGS:
    _database_fresh(ARGS.database)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tasks import TaskResultStatus  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

from agencies import services  # noqa: E402
from agencies.models import Agency, Organization, User  # noqa: E402
from billing import ledger  # noqa: E402
from billing.models import BalanceCrossing, LedgerEntry, Purchase, StripeEvent  # noqa: E402
from core.periodic import LEASE_EXPIRED, periodic_chains  # noqa: E402
from ops import alerts  # noqa: E402
from ops.models import AlertDelivery, BalanceAlert  # noqa: E402
from stripe_standin.client import call as standin_call  # noqa: E402
from stripe_standin.resources import sign  # noqa: E402
from usage import keys  # noqa: E402
from usage.models import UsageRecord  # noqa: E402
from usage.records import minutes_for  # noqa: E402

STANDIN = ENV["STRIPE_API_BASE"]
CSRF = "a" * 32  # an unmasked CSRF secret, set as the cookie and sent back in the header


# --- Figures and problems -------------------------------------------------------------

STATS: Counter = Counter()
STATS_LOCK = threading.Lock()
PROBLEMS: list[str] = []


def count(name: str, n: int = 1) -> None:
    with STATS_LOCK:
        STATS[name] += n


def problem(text: str) -> None:
    with STATS_LOCK:
        PROBLEMS.append(text)


# --- Processes ------------------------------------------------------------------------

LOGS = Path(tempfile.mkdtemp(prefix="cluster-bench-"))


def _wait_port(port: int, seconds: float = 30) -> None:
    port_wait(port, seconds=seconds, hint=f"; logs in {LOGS}")


def _spawn(name: str, argv: list[str]) -> subprocess.Popen:
    log = (LOGS / f"{name}.log").open("a")
    # A session of its own: SIGKILL to its process group takes gunicorn's master and workers at once.
    return subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **ENV}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def server_start(port: int) -> subprocess.Popen:
    process = _spawn(f"gunicorn-{port}", gunicorn_command(port, workers=ARGS.workers, threads=ARGS.threads))
    _wait_port(port)
    return process


def worker_start(worker_id: str) -> subprocess.Popen:
    return _spawn(
        f"worker-{worker_id}",
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--queue-name",
            "*",
            "--no-reload",
            "--no-startup-delay",
            "--interval",
            "0.2",
            "--worker-id",
            worker_id,
        ],
    )


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


# --- The receiver of alert webhooks ------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.received: Counter = Counter()  # X-Webhook-Id -> times received
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(0.3)  # a receiver that takes its time: the worker holds each delivery a while
                with receiver.lock:
                    receiver.received[self.headers.get("X-Webhook-Id", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


# --- Tenants --------------------------------------------------------------------------


class Tenant:
    def __init__(self, agency: Agency, key: str, stripe_key: str, endpoint_secret: str, package_id: int):
        self.agency, self.key, self.stripe_key = agency, key, stripe_key
        self.endpoint_secret, self.package_id = endpoint_secret, package_id
        self.host = f"{agency.slug}.localhost"
        self.clients: list[tuple[int, str]] = []  # (organization id, session cookie)
        self.admin_session = ""


def _session_for(user: User) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key or ""


def tenants_make(receiver_url: str) -> list[Tenant]:
    tenants = []
    for n in range(ARGS.agencies):
        slug = f"cb{RUN}{n}"
        admin = User.objects.create_user(f"admin-{slug}@example.com", None)
        agency = services.agency_create(company_name=f"Cluster {n}", admin=admin)
        services.agency_update_branding(
            agency=agency,
            data={
                "company_name": agency.company_name,
                "logo_url": "",
                "primary_color": "#123456",
                "accent_color": "#ABCDEF",
                "slug": slug,
            },
        )
        account = standin_call(STANDIN, "/_standin/accounts", {"livemode": "false"})
        stripe_key = account["secret_key"]
        product = standin_call(STANDIN, "/v1/products", {"name": "Call credits"}, key=stripe_key)
        price = standin_call(
            STANDIN,
            "/v1/prices",
            {"currency": "eur", "unit_amount": "4000", "product": product["id"]},
            key=stripe_key,
        )
        # One URL per agency, as Stripe's dashboard holds one: half the agencies on each server.
        url = f"http://localhost:{PORTS[n % 2]}/api/webhooks/stripe/{slug}"
        endpoint = standin_call(
            STANDIN, "/v1/webhook_endpoints", {"url": url, "enabled_events[0]": "*"}, key=stripe_key
        )
        services.agency_update_stripe(
            agency=agency,
            data={
                "stripe_publishable_key": "pk_test_abcdefgh1234",
                "stripe_secret_key": stripe_key,
                "stripe_product_id": product["id"],
                "stripe_price_id": price["id"],
                "stripe_webhook_secret": endpoint["secret"],
            },
        )
        package = services.package_create(agency=agency, credits=PACKAGE_CREDITS, price_cents=4000, currency="EUR")
        missing = services.agency_set_active(agency=agency, active=True)
        if missing:
            raise SystemExit(f"agency {slug} cannot go live: {missing}")
        ledger.minutes_add(
            agency=agency, amount=AGENCY_START, description="bench", actor=None, reference=f"bench:{slug}"
        )
        alerts.alert_settings_save(threshold=AGENCY_THRESHOLD, webhook_url=receiver_url, agency=agency)
        tenant = Tenant(
            agency,
            keys.api_key_create(name="cluster", agency=agency).secret,
            stripe_key,
            endpoint["secret"],
            package.pk,
        )
        tenant.admin_session = _session_for(admin)
        for c in range(ARGS.clients):
            user = User.objects.create_user(f"client{c}-{slug}@example.com", None, agency=agency)
            org = services.client_signup(user=user, agency=agency, company_name=f"Client {n}.{c}")
            ledger.credits_allocate(
                organization=org, amount=CLIENT_START, description="bench", actor=None, reference=f"bench:{org.pk}"
            )
            alerts.alert_settings_save(threshold=CLIENT_THRESHOLD, webhook_url=receiver_url, organization=org)
            tenant.clients.append((org.pk, _session_for(user)))
        tenants.append(tenant)
    return tenants


# --- The client side: keep-alive connections, round-robin, retried when dropped --------------

_turn = itertools.count()


class Http:
    """One thread's keep-alive connections to the servers. Each request goes to the next server in turn;
    when its connection drops (refused, reset, closed mid-answer) or a 5xx comes back, the same request
    goes to the next server, as a load balancer or a retrying client would."""

    def __init__(self):
        self.conns: dict[int, http.client.HTTPConnection] = {}

    def _conn(self, port: int) -> http.client.HTTPConnection:
        if port not in self.conns:
            self.conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        return self.conns[port]

    def request(
        self, method: str, path: str, *, host: str, headers: dict | None = None, body: bytes | None = None
    ) -> tuple[int, dict, bytes]:
        for attempt in range(40):
            port = PORTS[next(_turn) % len(PORTS)]
            conn = self._conn(port)
            try:
                conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                del self.conns[port]
                count("client: tries that met a dropped or refused connection (sent again)")
                time.sleep(min(0.05 * attempt, 0.5))
                continue
            count("client: requests answered")
            if response.status >= 500:
                count(f"client: {response.status} answers (sent again)")
                time.sleep(min(0.05 * attempt, 0.5))
                continue
            return response.status, dict(response.getheaders()), data
        raise RuntimeError(f"{method} {path} on {host}: no server answered after 40 tries")


def _cookies(session: str) -> dict:
    return {"Cookie": f"sessionid={session}; csrftoken={CSRF}"}


# --- Load: usage -------------------------------------------------------------------------

ACCEPTED: dict[str, int] = {}  # record id -> minutes, for each record the API applied or called a duplicate
SENT: dict[str, int] = {}
RECORDS_LOCK = threading.Lock()


def _records(tenant: Tenant, n: int) -> list[dict]:
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    return [
        {
            "id": f"{RUN}-{uuid.uuid4().hex}",
            "organization_id": random.choice(tenant.clients)[0],
            "duration_sec": random.randint(1, 300),
            "created_at": at,
            "number_id": f"number-{random.randint(1, 5)}",
            "direction": random.choice(["inbound", "outbound"]),
        }
        for _ in range(n)
    ]


def usage_step(client: "Http", tenants: list[Tenant]) -> None:
    tenant = random.choice(tenants)
    records = _records(tenant, BATCH if random.random() < 0.25 else 1)
    with RECORDS_LOCK:
        SENT.update({r["id"]: minutes_for(r["duration_sec"]) for r in records})
    body = {"records": records} if len(records) > 1 else records[0]
    status, _, data = client.request(
        "POST",
        "/api/v1/usage",
        host="localhost",
        headers={"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )
    if status not in (200, 201):
        problem(f"usage answered {status}: {data[:200]!r}")
        return
    answer = json.loads(data)
    outcomes = answer["results"] if len(records) > 1 else [answer]
    count("usage: batches" if len(records) > 1 else "usage: single records")
    for outcome in outcomes:
        count(f"usage: records {outcome['status']}")
        if outcome["status"] in ("applied", "duplicate"):
            with RECORDS_LOCK:
                ACCEPTED[outcome["id"]] = SENT[outcome["id"]]
        else:
            problem(f"record {outcome.get('id')} {outcome['status']}: {outcome}")


# --- Load: purchases through Checkout on the stand-in -----------------------------------------

PAID: dict[str, Tenant] = {}  # Checkout Session id -> its tenant, for each session paid on the stand-in


def _no_redirect_post(url: str, form: dict) -> str:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, data=urlencode(form).encode())
    try:
        urllib.request.build_opener(NoRedirect).open(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 303:
            return exc.headers["Location"]
        raise
    raise RuntimeError(f"{url} did not redirect")


def purchase_step(client: "Http", tenants: list[Tenant]) -> None:
    tenant = random.choice(tenants)
    _org_id, session = random.choice(tenant.clients)
    headers = {**_cookies(session), "X-CSRFToken": CSRF, "Content-Type": "application/x-www-form-urlencoded"}
    status, answer_headers, data = client.request(
        "POST", f"/billing/buy/{tenant.package_id}/", host=tenant.host, headers=headers, body=b""
    )
    if status != 303:
        problem(f"buy answered {status}: {data[:200]!r}")
        return
    count("stripe: checkouts started")
    checkout_url = answer_headers["Location"]
    session_id = urlsplit(checkout_url).path.rsplit("/", 1)[-1]
    # Pay on the hosted page: the stand-in delivers checkout.session.completed, then sends the browser back.
    back = _no_redirect_post(f"{STANDIN}/c/pay/{session_id}", {"method": "card"})
    PAID[session_id] = tenant
    count("stripe: sessions paid")
    parts = urlsplit(back)
    status, _, data = client.request("GET", f"{parts.path}?{parts.query}", host=tenant.host, headers=_cookies(session))
    count("pages: success page")
    if status != 200:
        problem(f"success page answered {status}: {data[:200]!r}")


# --- Stripe's retries ----------------------------------------------------------------------

DELIVERED_LATE: set[str] = set()  # stand-in delivery ids that failed and were then sent again with a 2xx answer


def _deliveries(tenant: Tenant) -> list[dict]:
    return standin_call(STANDIN, "/_standin/deliveries", key=tenant.stripe_key, method="GET")["data"]


def _failed(delivery: dict) -> bool:
    status = delivery.get("status")
    return bool(delivery.get("error")) or (status is not None and not 200 <= status < 300)


def stripe_retries(tenants: list[Tenant]) -> int:
    """Send again, signed afresh as Stripe signs each try, every delivery that failed; how many still fail."""
    pending = 0
    for tenant in tenants:
        for delivery in _deliveries(tenant):
            if not _failed(delivery) or delivery["id"] in DELIVERED_LATE:
                continue
            request = urllib.request.Request(
                delivery["url"],
                data=delivery["payload"].encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": sign(delivery["payload"], tenant.endpoint_secret),
                },
            )
            count("stripe: deliveries sent again")
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    ok = 200 <= answer.status < 300
            except (OSError, urllib.error.HTTPError):
                ok = False
            if ok:
                DELIVERED_LATE.add(delivery["id"])
            else:
                pending += 1
    return pending


def retry_load(tenants: list[Tenant], stop: threading.Event) -> None:
    while not stop.wait(2):
        stripe_retries(tenants)


# --- Load: page views ------------------------------------------------------------------------


PAGES = ["/usage/", "/usage/report/", "/billing/", "/billing/buy/", "console", "business", "api", "api"]


def view_step(client: "Http", tenants: list[Tenant]) -> None:
    today = timezone.now().date()
    tenant, page = random.choice(tenants), random.choice(PAGES)
    org_id, session = random.choice(tenant.clients)
    if page == "console":
        request = ("/console/", "localhost", _cookies(tenant.admin_session))
    elif page == "business":
        request = ("/console/ops/business/", "localhost", _cookies(tenant.admin_session))
    elif page == "api":
        path = random.choice(
            [
                f"/api/v1/billing/balance?organization_id={org_id}",
                f"/api/v1/usage?start_date={today.replace(day=1)}&end_date={today}&limit=20",
            ]
        )
        request = (path, "localhost", {"Authorization": f"Bearer {tenant.key}"})
    else:
        request = (page, tenant.host, _cookies(session))
    status, _, data = client.request("GET", request[0], host=request[1], headers=request[2])
    count("pages: views")
    if status != 200:
        problem(f"GET {request[0]} on {request[1]} answered {status}: {data[:200]!r}")


def load_run(step, tenants: list[Tenant], stop: threading.Event) -> None:
    """Run `step` until told to stop; an exception is a problem to report, not the end of the thread."""
    client = Http()
    while not stop.is_set():
        try:
            step(client, tenants)
        except Exception as exc:
            problem(f"{step.__name__}: {exc!r}")
            time.sleep(0.5)


# --- Kill and restart -----------------------------------------------------------------------


def worker_busy(worker_id: str, task_path: str | None = None) -> DBTaskResult | None:
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, worker_ids__contains=[worker_id])
    if task_path:
        running = running.filter(task_path=task_path)
    return running.order_by("-started_at").first()


def kill_and_restart(servers: dict, workers: dict, killed: dict) -> None:
    port = PORTS[0]
    victim_id = next(iter(workers))
    kill_group(servers[port])
    count("kills: gunicorn server (process group)")
    # Kill the worker while it holds a task if it gets one within a few seconds (it usually does: deliveries
    # wait on the slow receiver).
    # An alert delivery preferably: its recovery runs through the item's claim, the longest path.
    deadline = time.monotonic() + 8
    held = worker_busy(victim_id, "ops.tasks.alert_deliver")
    while held is None and time.monotonic() < deadline:
        time.sleep(0.05)
        held = worker_busy(victim_id, "ops.tasks.alert_deliver")
    held = held or worker_busy(victim_id)
    kill_group(workers.pop(victim_id))
    count("kills: db_worker")
    killed["worker"] = victim_id
    killed["task"] = held
    print(
        f"  killed gunicorn on :{port} and db_worker {victim_id}"
        + (f" while it ran {held.task_path} {held.args_kwargs.get('args')}" if held else " (it held no task)"),
        flush=True,
    )
    time.sleep(ARGS.down)
    servers[port] = server_start(port)
    count("restarts: gunicorn server")
    restarted = f"{victim_id}-restarted"
    workers[restarted] = worker_start(restarted)
    count("restarts: db_worker")
    print(f"  restarted gunicorn on :{port} and a db_worker ({restarted})", flush=True)


# --- Drain and checks ------------------------------------------------------------------------


def _due_or_running():
    now = timezone.now()
    return {
        "running tasks": DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).count(),
        "due tasks": DBTaskResult.objects.filter(status=TaskResultStatus.READY, run_after__lte=now).count(),
        "crossings not taken": BalanceCrossing.objects.filter(taken_at__isnull=True).count(),
        "deliveries pending": AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING).count(),
    }


def drain(tenants: list[Tenant]) -> float:
    started = time.monotonic()
    deadline = started + ARGS.drain
    left: dict = {}
    while time.monotonic() < deadline:
        still_failing = stripe_retries(tenants)
        in_flight = sum(1 for t in tenants for d in _deliveries(t) if d.get("status") is None and not d.get("error"))
        left = {
            **_due_or_running(),
            "Stripe deliveries failing": still_failing,
            "Stripe deliveries in flight": in_flight,
        }
        if not any(left.values()):
            return time.monotonic() - started
        time.sleep(1)
    problem(f"the queue did not drain in {ARGS.drain:.0f} s: {left}")
    return time.monotonic() - started


def _command_ok(name: str) -> bool:
    result = subprocess.run(
        [sys.executable, "manage.py", name],
        cwd=ROOT,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"  {name}: {'clean' if result.returncode == 0 else 'FAILED'}")
    if result.returncode != 0:
        problem(f"{name} failed: {(result.stdout + result.stderr)[-1500:]}")
    return result.returncode == 0


def check_usage(tenants: list[Tenant]) -> None:
    agency_ids = [t.agency.pk for t in tenants]
    stored = dict(UsageRecord.objects.filter(agency_id__in=agency_ids).values_list("record_id", "minutes"))
    lost = set(ACCEPTED) - set(stored)
    unknown = set(stored) - set(SENT)
    if lost:
        problem(f"{len(lost)} accepted records not stored, e.g. {sorted(lost)[:3]}")
    if unknown:
        problem(f"{len(unknown)} stored records never sent, e.g. {sorted(unknown)[:3]}")
    unanswered = set(stored) - set(ACCEPTED)  # applied although no answer came back: none expected, every try retried
    if unanswered:
        problem(f"{len(unanswered)} records stored whose request never got an answer")
    stored_count = UsageRecord.objects.filter(agency_id__in=agency_ids).count()
    if stored_count != len(ACCEPTED):
        problem(f"records stored {stored_count} != unique record ids accepted {len(ACCEPTED)}")
    wrong_minutes = [rid for rid, minutes in stored.items() if ACCEPTED.get(rid, minutes) != minutes]
    if wrong_minutes:
        problem(f"{len(wrong_minutes)} records billed other minutes than sent, e.g. {wrong_minutes[:3]}")
    usage_entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE, reference__startswith=f"usage:{RUN}-")
    per_reference = usage_entries.values("reference").annotate(n=Count("id")).exclude(n=2)
    if per_reference.exists():
        problem(f"{per_reference.count()} usage references without exactly 2 ledger entries: {list(per_reference[:3])}")
    entries = usage_entries.count()
    if entries != 2 * len(stored):
        problem(f"usage ledger entries {entries} != 2 x records {len(stored)}")
    minutes = sum(stored.values())
    debited_orgs = -(usage_entries.filter(organization__isnull=False).aggregate(s=Sum("amount"))["s"] or 0)
    debited_agencies = -(usage_entries.filter(agency__isnull=False).aggregate(s=Sum("amount"))["s"] or 0)
    moved = sum(
        AGENCY_START - a for a in Agency.objects.filter(pk__in=agency_ids).values_list("minutes_balance", flat=True)
    )
    if not minutes == debited_orgs == debited_agencies == moved == sum(ACCEPTED.values()):
        problem(
            f"minutes: records {minutes}, client debits {debited_orgs}, agency debits {debited_agencies}, "
            f"agency balances moved {moved}, accepted {sum(ACCEPTED.values())}"
        )
    # Each client's balance moved by its usage and its purchases, nothing else.
    for org_id, balance in Organization.objects.filter(agency_id__in=agency_ids).values_list("pk", "credits_balance"):
        used = UsageRecord.objects.filter(organization_id=org_id).aggregate(s=Sum("minutes"))["s"] or 0
        bought = PACKAGE_CREDITS * Purchase.objects.filter(organization_id=org_id, status=Purchase.Status.PAID).count()
        if balance != CLIENT_START + bought - used:
            problem(f"organization {org_id}: balance {balance} != {CLIENT_START} + {bought} bought - {used} used")
    STATS["checked: records stored"] = len(stored)
    STATS["checked: minutes billed"] = minutes


def check_stripe(tenants: list[Tenant]) -> None:
    agency_ids = [t.agency.pk for t in tenants]
    paid = Purchase.objects.filter(agency_id__in=agency_ids, status=Purchase.Status.PAID)
    paid_sessions = set(paid.values_list("stripe_session_id", flat=True))
    if paid_sessions != set(PAID):
        problem(
            f"purchases paid {len(paid_sessions)} != sessions paid {len(PAID)}: "
            f"not credited {sorted(set(PAID) - paid_sessions)[:3]}, credited unpaid {sorted(paid_sessions - set(PAID))[:3]}"
        )
    credits = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PURCHASE, organization__agency_id__in=agency_ids)
    per_purchase = credits.values("purchase_id").annotate(n=Count("id")).exclude(n=1)
    if per_purchase.exists():
        problem(f"purchases credited more than once: {list(per_purchase[:3])}")
    if credits.count() != paid.count():
        problem(f"purchase credit entries {credits.count()} != purchases paid {paid.count()}")
    events, redelivered = set(), 0
    for tenant in tenants:
        for delivery in _deliveries(tenant):
            events.add((tenant.agency.pk, delivery["event"]))
            redelivered += delivery["id"] in DELIVERED_LATE
    recorded = Counter(StripeEvent.objects.filter(agency_id__in=agency_ids).values_list("agency_id", "event_id"))
    missing = events - set(recorded)
    doubled = [key for key, n in recorded.items() if n != 1]
    if missing:
        problem(f"{len(missing)} delivered Stripe events never processed, e.g. {sorted(missing)[:3]}")
    if doubled:
        problem(f"Stripe events processed twice: {doubled[:3]}")
    STATS["checked: Stripe events delivered"] = len(events)
    STATS["checked: ... of which after a failed delivery"] = redelivered
    STATS["checked: purchases credited"] = paid.count()


def _expected_crossings(entries, threshold: int) -> dict[str, int]:
    """From an account's entries in posting order: the debits that took the balance from >= threshold to below."""
    crossed: dict[str, int] = {}
    for amount, after, reference in entries:
        before = after - amount
        if amount < 0 and before >= threshold > after:
            crossed[reference] = 1
    return crossed


def check_alerts(tenants: list[Tenant], receiver: Receiver) -> None:
    agency_ids = [t.agency.pk for t in tenants]
    expected = 0
    accounts = [("organization_id", pk, CLIENT_THRESHOLD) for t in tenants for pk, _ in t.clients]
    accounts += [("agency_id", pk, AGENCY_THRESHOLD) for pk in agency_ids]
    for field, pk, threshold in accounts:
        entries = (
            LedgerEntry.objects.filter(**{field: pk}).order_by("pk").values_list("amount", "balance_after", "reference")
        )
        want = _expected_crossings(entries, threshold)
        have = Counter(BalanceCrossing.objects.filter(**{field: pk}).values_list("reference", flat=True))
        expected += len(want)
        if set(want) != set(have) or any(n != 1 for n in have.values()):
            problem(f"{field} {pk}: crossings by the ledger {sorted(want)[:3]}.. != recorded {dict(have)}")
    crossings = BalanceCrossing.objects.filter(organization__agency_id__in=agency_ids) | BalanceCrossing.objects.filter(
        agency_id__in=agency_ids
    )
    alerts_made = BalanceAlert.objects.filter(organization__agency_id__in=agency_ids) | BalanceAlert.objects.filter(
        agency_id__in=agency_ids
    )
    if crossings.filter(taken_at__isnull=True).exists():
        problem("crossings never taken")
    if alerts_made.count() != crossings.count():
        problem(f"alerts {alerts_made.count()} != crossings {crossings.count()}")
    for alert in alerts_made.prefetch_related("deliveries"):
        channels = Counter(d.channel for d in alert.deliveries.all())
        if channels != Counter({"email": 1, "webhook": 1}):
            problem(f"alert {alert.pk} has deliveries {dict(channels)}")
        for delivery in alert.deliveries.all():
            if delivery.status != AlertDelivery.Status.DELIVERED:
                problem(f"delivery {delivery.pk} ({delivery.channel}) {delivery.status}: {delivery.last_error}")
            if delivery.channel == "webhook":
                times = receiver.received.get(delivery.event_id, 0)
                if times == 0:
                    problem(f"webhook {delivery.event_id} never received")
                elif times > 1:
                    count("checked: alert webhooks received more than once (at-least-once)")
                    if delivery.attempts < 2:
                        problem(f"webhook {delivery.event_id} received {times} times from one try")
    STATS["checked: crossings (by the ledger)"] = expected
    STATS["checked: alerts"] = alerts_made.count()
    STATS["checked: alert webhooks received"] = sum(receiver.received.values())


def check_tasks(killed: dict) -> None:
    rows = DBTaskResult.objects.all()
    STATS["tasks: queued"] = rows.count()
    for status, n in Counter(rows.values_list("status", flat=True)).items():
        STATS[f"tasks: {status}"] = n
    now = timezone.now()
    if rows.filter(status=TaskResultStatus.RUNNING).exists():
        problem(
            f"tasks left RUNNING: {list(rows.filter(status=TaskResultStatus.RUNNING).values_list('task_path', 'worker_ids'))}"
        )
    if rows.filter(status=TaskResultStatus.READY, run_after__lte=now).exists():
        problem("tasks left READY and due")
    for row in rows.filter(status=TaskResultStatus.FAILED):
        by_killed = killed.get("worker") in (row.worker_ids or [])
        if row.exception_class_path != LEASE_EXPIRED or not by_killed:
            problem(f"task {row.task_path} {row.args_kwargs} failed: {row.exception_class_path} {row.traceback[-300:]}")
    # Each alert delivery went out from exactly one task run (the others found it not theirs, or retried it).
    delivered = Counter(
        row["args_kwargs"]["args"][0]
        for row in rows.filter(task_path="ops.tasks.alert_deliver", status=TaskResultStatus.SUCCESSFUL).values(
            "args_kwargs", "return_value"
        )
        if row["return_value"] == AlertDelivery.Status.DELIVERED
    )
    deliveries = set(AlertDelivery.objects.values_list("pk", flat=True))
    if set(delivered) != deliveries or any(n != 1 for n in delivered.values()):
        problem(
            f"alert deliveries run to delivered by a task: {len(delivered)} of {len(deliveries)}, "
            f"doubled {[k for k, n in delivered.items() if n > 1][:3]}"
        )
    # Never two runs of one periodic chain waiting at once.
    for module in ("ops.tasks", "usage.tasks", "billing.tasks", "billing.stripe_check"):
        importlib.import_module(module)  # each registers its periodic chain
    chains = [chain.task.module_path for chain in periodic_chains()]
    waiting = Counter(
        rows.filter(status=TaskResultStatus.READY, task_path__in=chains).values_list("task_path", flat=True)
    )
    if any(n > 1 for n in waiting.values()):
        problem(f"periodic chains with more than one run waiting: {waiting}")
    task = killed.get("task")
    if task is not None:
        task.refresh_from_db()
        STATS["kills: task held by the killed worker ended as"] = task.status + (
            " (lease expired)" if task.exception_class_path == LEASE_EXPIRED else ""
        )
        if task.task_path == "ops.tasks.alert_deliver":
            delivery = AlertDelivery.objects.get(pk=task.args_kwargs["args"][0])
            STATS["kills: ... its delivery, taken over, ended"] = delivery.status


def main() -> int:
    began = time.monotonic()
    print(f"cluster bench: {ARGS.seconds:.0f} s of load, logs in {LOGS}", flush=True)
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as the deploy does: the pages need its manifest
    # As the README's deploy: once per release, the periodic chains.
    for command in ("usage_schedule", "ops_schedule", "stripe_reconcile_schedule", "stripe_check_schedule"):
        call_command(command, verbosity=0)
    standin = _spawn("standin", [sys.executable, "-m", "stripe_standin", "--port", str(STANDIN_PORT)])
    _wait_port(STANDIN_PORT)
    receiver = Receiver()
    tenants = tenants_make(receiver.url)
    connections.close_all()
    servers = {port: server_start(port) for port in PORTS}
    workers = {worker_id: worker_start(worker_id) for worker_id in ("w1", "w2")}
    print(
        f"  {len(tenants)} agencies x {ARGS.clients} clients; gunicorn on :{PORTS[0]} and :{PORTS[1]} "
        f"({ARGS.workers} workers x {ARGS.threads} threads each), 2 db_workers, stand-in on :{STANDIN_PORT}, "
        f"Redis db {ARGS.redis_db}, database {ARGS.database}; setup took {time.monotonic() - began:.0f} s",
        flush=True,
    )
    stop = threading.Event()
    loads = [(usage_step, ARGS.usage_threads), (purchase_step, ARGS.buyers), (view_step, ARGS.viewers)]
    threads = [threading.Thread(target=retry_load, args=(tenants, stop), daemon=True)]
    threads += [
        threading.Thread(target=load_run, args=(step, tenants, stop), daemon=True)
        for step, n in loads
        for _ in range(n)
    ]
    killed: dict = {}
    failed = False
    try:
        load_started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(ARGS.seconds * 0.4)
        kill_and_restart(servers, workers, killed)
        time.sleep(max(0.0, load_started + ARGS.seconds - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join(120)
        load_seconds = time.monotonic() - load_started
        STATS["load: seconds (until every client thread stopped)"] = round(load_seconds)
        print(f"  load stopped after {load_seconds:.0f} s; draining", flush=True)
        drained = drain(tenants)
        print(f"  drained in {drained:.0f} s; checking", flush=True)
        _command_ok("ledger_check") or None
        _command_ok("usage_check") or None
        check_usage(tenants)
        check_stripe(tenants)
        check_alerts(tenants, receiver)
        check_tasks(killed)
        logs = [path.read_text(errors="replace") for path in LOGS.glob("gunicorn-*.log")]
        STATS["server logs: deadlock detected"] = sum(
            text.count("DeadlockDetected: deadlock detected") for text in logs
        )
        STATS["server logs: Internal Server Error"] = sum(text.count("Internal Server Error") for text in logs)
    finally:
        for process in [*servers.values(), *workers.values(), standin]:
            kill_group(process)
        receiver.shutdown()
        connections.close_all()
        if not ARGS.keep_db:
            _database_drop(ARGS.database)
    print(f"\nFigures ({ARGS.seconds:.0f} s of load, {time.monotonic() - began:.0f} s in all):")
    for name in sorted(STATS):
        value = STATS[name]
        print(f"  {name:66} {value:>10,}" if isinstance(value, int) else f"  {name:66} {value:>10}")
    if STATS["server logs: deadlock detected"]:
        print(
            "\nNote: the servers logged deadlocks (answered 500, sent again by the clients here, so nothing lost):"
            " the usage ingest locks the agency row, then the client's, FOR UPDATE; a purchase credit locks the"
            " client's row, then inserts its invoice, whose foreign key check waits for a KEY SHARE lock on the"
            " agency row, which FOR UPDATE blocks."
        )
    if PROBLEMS:
        failed = True
        print(f"\nLOST OR DOUBLED, or errors: {len(PROBLEMS)}")
        for text in PROBLEMS[:40]:
            print("  -", text)
    else:
        print("\nNothing lost, nothing doubled.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

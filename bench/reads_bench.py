"""Reads at scale: what the summaries cost with 10 k calls and with 10 M, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_readsbench .venv/bin/python bench/reads_bench.py --fresh
    # development: --calls 300000; the full run (10 M) under flock /work/bench.lock

Not a test. The calls are GENERATED IN SQL, straight into the database, not posted through the API:
per chunk one INSERT ... SELECT over generate_series writes the usage records, then the rows the
ingest (usage/ingest.py) would have written for them in the same transaction: a client and an agency
ledger entry per call (kind usage, reference `usage:<record id>`, description `Call <record id>`,
balance_after the running balance), each balance moved by the sum of its entries, and the three daily
rollups (UsageDay, UsageAgencyDay, UsageDayNumber) upserted with the ingest's own ON CONFLICT statement
(usage.rollups._upsert_sql). To load fast, the two big tables' secondary indexes (and the records'
UNIQUE (agency, record_id)) are dropped while loading and built again afterwards, and the loading
session sets session_replication_role = replica, so foreign keys are not checked row by row (the ids
are right by construction); the schema ends exactly as migrated. Then VACUUM ANALYZE, and
`ledger_check` and `usage_check` run (timed) and must pass.

Shape (10 agencies x 100 clients; N = --calls):
- one big client (the first agency's first) holds N/10 calls, all in the current UTC month, spread
  evenly from the 1st, 00:00 to a minute before the load, on 20 numbers;
- the other 999 clients share the other 9N/10, one after the other, spread evenly over the current
  month and the three before it (a golden-ratio sequence: any prefix is spread like the whole), on 5
  numbers each; a third of all calls inbound, durations 1-600 s.

It loads --small calls (default 10,000) first and measures, then grows the same database to --calls
(default 10,000,000), same shape, and measures again. Each figure: 20 warm-up requests, then
--requests timed requests over one keep-alive connection, and as many again spread over 8 connections
sending at once (p50/p99 of each request's own time). gunicorn runs as the README deploys it
(gthread, 4 workers x 4 threads, Redis cache), started here on a free loopback port. The pages are
read signed in: a session row is created for the big client's owner and for its agency's admin,
the way Django's test client force_login() does (SessionStore with the user id, backend and hash),
and sent as the sessionid cookie; the client's pages on its portal host <slug>.localhost, the
console's on localhost (PORTAL_BASE_DOMAIN=localhost).
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
from bench.servers import SERVER_ENV as BASE_ENV  # noqa: E402

SERVER_ENV = {
    **BASE_ENV,
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"),
}
os.environ.update(SERVER_ENV)

import django  # noqa: E402

from bench.servers import free_port, gunicorn_start  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from agencies import services  # noqa: E402
from agencies.models import Agency, Organization, User  # noqa: E402
from billing import ledger  # noqa: E402
from usage import keys, rollups  # noqa: E402
from usage.models import UsageAgencyDay, UsageDay, UsageDayNumber  # noqa: E402

AGENCIES, CLIENTS = 10, 100
START_BALANCE = 10**12  # no call ever overdraws
BIG_SHARE = 10  # the big client holds 1/10 of the calls
PREVIOUS_MONTHS = 3  # the other clients' calls: this month and the three before
CHUNK = 500_000
PASSWORD = "reads-bench-password-1"
BIG_TABLES = ("usage_usagerecord", "billing_ledgerentry")


# --- Tenants ---------------------------------------------------------------------------------------------


def tenants_create() -> dict:
    """10 live agencies of 100 clients; the first client of the first agency is the big one (a real user)."""
    orgs: list[int] = []
    for n in range(AGENCIES):
        admin = User.objects.create_user(f"admin{n}@readsbench.example", PASSWORD)
        agency = services.agency_create(company_name=f"Reads bench {n}", admin=admin)
        services.agency_update_branding(
            agency=agency,
            data={
                "company_name": agency.company_name,
                "logo_url": "",
                "primary_color": "#123456",
                "accent_color": "#ABCDEF",
                "slug": f"readsbench{n}",
            },
        )
        services.agency_update_stripe(
            agency=agency,
            data={
                "stripe_publishable_key": "pk_test_abcdefgh1234",
                "stripe_secret_key": "sk_test_abcdefgh1234",
                "stripe_product_id": "prod_test1234",
                "stripe_price_id": "price_test1234",
                "stripe_webhook_secret": "whsec_abcdefgh12345678",
            },
        )
        services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
        assert services.agency_set_active(agency=agency, active=True) == []
        ledger.minutes_add(agency=agency, amount=START_BALANCE, description="bench", actor=None, reference="bench:0")
        for c in range(CLIENTS):
            if n == 0 and c == 0:
                user = User.objects.create_user("big@readsbench.example", PASSWORD, agency=agency)
                org = services.client_signup(user=user, agency=agency, company_name="Big client")
            else:
                org = Organization.objects.create(agency=agency, name=f"Client {n}-{c}")
            ledger.credits_allocate(
                organization=org, amount=START_BALANCE, description="bench", actor=None, reference="bench:0"
            )
            orgs.append(org.pk)
    big = Organization.objects.get(name="Big client")
    agency = big.agency
    return {
        "big": big.pk,
        "others": [pk for pk in orgs if pk != big.pk],
        "client_key": keys.api_key_create(name="bench", organization=big).secret,
        "agency_key": keys.api_key_create(name="bench", agency=agency).secret,
        "client_session": _session(big.owner),
        "admin_session": _session(User.objects.get(managed_agency=agency)),
        "slug": agency.slug,
    }


def _session(user: User) -> str:
    """A signed-in session row, as Django's test client force_login() makes it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return session.session_key


# --- Loading calls in SQL ----------------------------------------------------------------------------------


def _loader() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    conn = psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
    )
    with conn.cursor() as cur:
        # This session only: no fsync wait per chunk, room to sort, no row-by-row foreign key triggers.
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET work_mem = '256MB'")
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET session_replication_role = replica")
    conn.commit()
    return conn


def _indexes_drop(conn: psycopg.Connection) -> list[str]:
    """Drop the big tables' secondary indexes and unique constraints; the statements that put them back."""
    restore: list[str] = []
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS reads_bench_restore (n serial PRIMARY KEY, statement text NOT NULL)")
        for table in BIG_TABLES:
            cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'u'",
                [table],
            )
            for name, definition in cur.fetchall():
                restore.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            cur.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.conrelid = %s::regclass)",
                [table, table],
            )
            for name, definition in cur.fetchall():
                restore.append(definition)
                cur.execute(f'DROP INDEX "{name}"')
        # Kept in the database until rebuilt: a load that dies half-way is repaired by the next run.
        for statement in restore:
            cur.execute("INSERT INTO reads_bench_restore (statement) VALUES (%s)", [statement])
    conn.commit()
    return restore


def indexes_restore(conn: psycopg.Connection) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('reads_bench_restore') IS NOT NULL")
        if not cur.fetchone()[0]:
            return 0
        cur.execute("SELECT statement FROM reads_bench_restore ORDER BY n")
        statements = [row[0] for row in cur.fetchall()]
    conn.commit()
    for statement in statements:
        with conn.cursor() as cur:
            cur.execute(statement)
        conn.commit()
    with conn.cursor() as cur:
        cur.execute("DROP TABLE reads_bench_restore")
    conn.commit()
    return len(statements)


CHUNK_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS reads_chunk (id bigint, agency_id bigint, organization_id bigint, "
    "record_id text, duration_sec int, minutes int, created_at timestamptz, number_id text, direction text)"
)

# One chunk of one stream: calls lo..hi-1, oldest first (so ids follow time within the chunk).
RECORDS_SQL = """
WITH rec AS (
    INSERT INTO usage_usagerecord (agency_id, organization_id, record_id, duration_sec, minutes, created_at,
                                   number_id, direction, reservation_id, overdraft, received_at)
    SELECT o.agency_id, o.id, g.record_id, g.duration_sec, (g.duration_sec + 59) / 60, g.created_at,
           g.number_id, g.direction, NULL, false, g.created_at
    FROM (
        SELECT %(prefix)s::text || i AS record_id,
               (%(orgs)s::bigint[])[1 + i %% %(org_count)s] AS organization_id,
               %(t0)s::timestamptz + make_interval(secs => %(span)s * ((i * 0.6180339887498949::float8) - floor(i * 0.6180339887498949::float8))) AS created_at,
               1 + (i * 7919) %% 600 AS duration_sec,
               'number-' || (1 + (i / %(org_count)s) %% %(numbers)s) AS number_id,
               CASE WHEN i %% 3 = 0 THEN 'inbound' ELSE 'outbound' END AS direction
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS i
    ) AS g
    JOIN agencies_organization o ON o.id = g.organization_id
    ORDER BY g.created_at
    RETURNING id, agency_id, organization_id, record_id, duration_sec, minutes, created_at, number_id, direction
)
INSERT INTO reads_chunk SELECT * FROM rec
"""

# The ingest's ledger rows for the chunk: a client and an agency entry per call, running balances.
ENTRIES_SQL = """
INSERT INTO billing_ledgerentry (organization_id, agency_id, amount, kind, reference, balance_after, actor_id,
                                 description, purchase_id, created_at, usage_client_id)
SELECT c.organization_id, NULL::bigint, -c.minutes, 'usage', 'usage:' || c.record_id,
       o.credits_balance - sum(c.minutes) OVER (PARTITION BY c.organization_id ORDER BY c.id),
       NULL::bigint, 'Call ' || c.record_id, NULL::bigint, c.created_at, NULL::bigint
FROM reads_chunk c JOIN agencies_organization o ON o.id = c.organization_id
UNION ALL
SELECT NULL::bigint, c.agency_id, -c.minutes, 'usage', 'usage:' || c.record_id,
       a.minutes_balance - sum(c.minutes) OVER (PARTITION BY c.agency_id ORDER BY c.id),
       NULL::bigint, 'Call ' || c.record_id, NULL::bigint, c.created_at, c.organization_id
FROM reads_chunk c JOIN agencies_agency a ON a.id = c.agency_id
"""

BALANCES_SQL = (
    (
        "UPDATE agencies_organization o SET credits_balance = o.credits_balance - s.m FROM "
        "(SELECT organization_id, sum(minutes) AS m FROM reads_chunk GROUP BY 1) s WHERE o.id = s.organization_id"
    ),
    (
        "UPDATE agencies_agency a SET minutes_balance = a.minutes_balance - s.m "
        "FROM (SELECT agency_id, sum(minutes) AS m FROM reads_chunk GROUP BY 1) s WHERE a.id = s.agency_id"
    ),
)

_DAY = "(created_at AT TIME ZONE 'UTC')::date"
# The ingest's own upserts (usage.rollups), fed by the chunk summed per key instead of by unnest().
ROLLUPS_SQL = (
    rollups._upsert_sql(
        UsageDay,
        rollups.DAY_FIELDS,
        ("organization", "day"),
        f"SELECT agency_id, organization_id, {_DAY}, count(*), sum(duration_sec), sum(minutes), max(created_at) "
        "FROM reads_chunk GROUP BY 1, 2, 3",
    ),
    rollups._upsert_sql(
        UsageAgencyDay,
        rollups.AGENCY_FIELDS,
        ("agency", "day"),
        f"SELECT agency_id, {_DAY}, count(*), sum(duration_sec), sum(minutes) FROM reads_chunk GROUP BY 1, 2",
    ),
    rollups._upsert_sql(
        UsageDayNumber,
        rollups.NUMBER_FIELDS,
        ("organization", "day", "direction", "number_id"),
        f"SELECT agency_id, organization_id, {_DAY}, direction, number_id, count(*), sum(duration_sec), "
        "sum(minutes) FROM reads_chunk GROUP BY 1, 2, 3, 4, 5",
    ),
)


def _chunk_load(conn: psycopg.Connection, params: dict) -> None:
    with conn.cursor() as cur:
        cur.execute(CHUNK_TABLE)
        cur.execute("TRUNCATE reads_chunk")
        cur.execute(RECORDS_SQL, params)
        cur.execute(ENTRIES_SQL)  # before the balances move: it reads the balances the chunk starts from
        for statement in (*BALANCES_SQL, *ROLLUPS_SQL):
            cur.execute(statement)
    conn.commit()


def calls_load(conn: psycopg.Connection, tenants: dict, *, have: int, want: int, now: datetime) -> None:
    """Grow the calls from `have` to `want`, keeping the shape (see the module docstring)."""
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = month
    for _ in range(PREVIOUS_MONTHS):
        start = (start - timedelta(days=1)).replace(day=1)
    end = now - timedelta(minutes=1)
    streams = [
        # (prefix, organizations, first index, last index, from, numbers)
        ("big-", [tenants["big"]], have // BIG_SHARE, want // BIG_SHARE, month, 20),
        ("call-", tenants["others"], have - have // BIG_SHARE, want - want // BIG_SHARE, start, 5),
    ]
    for prefix, orgs, lo, hi, t0, numbers in streams:
        for first in range(lo, hi, CHUNK):
            _chunk_load(
                conn,
                {
                    "prefix": prefix,
                    "orgs": orgs,
                    "org_count": len(orgs),
                    "t0": t0,
                    "span": (end - t0).total_seconds(),
                    "numbers": numbers,
                    "lo": first,
                    "hi": min(hi, first + CHUNK),
                },
            )
            print(f"  {prefix}{min(hi, first + CHUNK):,} of {hi:,}", flush=True)


def load(tenants: dict, *, have: int, want: int) -> dict:
    """Load calls have..want in SQL, rebuild indexes, VACUUM ANALYZE; seconds each step took."""
    conn = _loader()
    timings = {}
    try:
        started = time.perf_counter()
        indexes_restore(conn)  # from a run that died while loading
        _indexes_drop(conn)
        calls_load(conn, tenants, have=have, want=want, now=datetime.now(UTC))
        timings["insert"] = time.perf_counter() - started
        started = time.perf_counter()
    finally:
        conn.rollback()
        indexes_restore(conn)
    timings["indexes"] = time.perf_counter() - started
    started = time.perf_counter()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    timings["vacuum"] = time.perf_counter() - started
    conn.close()
    return timings


def checks() -> dict:
    """ledger_check and usage_check, as management commands, timed; SystemExit if either fails."""
    timings = {}
    for command in ("ledger_check", "usage_check"):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "manage.py", command],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=os.environ,
        )
        timings[command] = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{command} failed:\n{result.stdout}{result.stderr}")
    return timings


# --- HTTP ---------------------------------------------------------------------------------------------------


class Http:
    """A lean keep-alive HTTP/1.1 GET client: the client's own CPU would otherwise count against the server."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def get(self, request: bytes) -> tuple[float, int, bytes]:
        """Send a prepared GET; (seconds until the whole answer is read, status, body)."""
        started = time.perf_counter()
        self.sock.sendall(request)
        status = int(self.reader.readline().split()[1])
        length = None
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise SystemExit("chunked answers are not read by this client")
        body = self.reader.read(length or 0)
        return time.perf_counter() - started, status, body

    def close(self) -> None:
        self.sock.close()


def _request(path: str, host: str, *, key: str = "", session: str = "", cached: bool = False) -> bytes:
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
    if cached:  # a browser holding the image asks again (If-None-Match: * matches any ETag): 304, nothing drawn
        head += "If-None-Match: *\r\n"
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    if session:
        head += f"Cookie: {settings.SESSION_COOKIE_NAME}={session}\r\n"
    return (head + "\r\n").encode()


def requests_measured(tenants: dict, today: date) -> list[tuple[str, bytes]]:
    portal = f"{tenants['slug']}.localhost"
    client, agency = {"key": tenants["client_key"]}, {"key": tenants["agency_key"]}
    month = f"start_date={today.replace(day=1).isoformat()}&end_date={today.isoformat()}"
    return [
        ("GET /api/v1/account", _request("/api/v1/account", "localhost", **client)),
        ("GET /api/v1/usage?start_date=1st&end_date=today", _request(f"/api/v1/usage?{month}", "localhost", **client)),
        ("client /usage/", _request("/usage/", portal, session=tenants["client_session"])),
        ("client /usage/report/", _request("/usage/report/", portal, session=tenants["client_session"])),
        ("console overview /console/", _request("/console/", "localhost", session=tenants["admin_session"])),
        (
            "console business /console/ops/business/",
            _request("/console/ops/business/", "localhost", session=tenants["admin_session"]),
        ),
        # The charts are images of their own now (ops/charts.py): drawn here, as a browser without the image
        # cached asks for them (no If-None-Match), so their cost is shown rather than hidden in the pages'.
        (
            "client report chart (desktop SVG, drawn)",
            _request("/usage/report/chart-desktop.svg", portal, session=tenants["client_session"]),
        ),
        (
            "console business chart (desktop SVG, drawn)",
            _request("/console/ops/business/chart-desktop.svg", "localhost", session=tenants["admin_session"]),
        ),
        (
            "client report chart (304, not drawn)",
            _request("/usage/report/chart-desktop.svg", portal, session=tenants["client_session"], cached=True),
        ),
        ("GET /api/v1/billing/balance (comparison)", _request("/api/v1/billing/balance", "localhost", **client)),
        # The agency's own figures: a row a day for all its clients, and its listing.
        ("agency key: GET /api/v1/account", _request("/api/v1/account", "localhost", **agency)),
        ("agency key: GET /api/v1/usage (month)", _request(f"/api/v1/usage?{month}", "localhost", **agency)),
        ("client key: GET /api/v1/billing/usage", _request("/api/v1/billing/usage", "localhost", **client)),
    ]


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(port: int, requests: list[tuple[str, bytes]], count: int, concurrency: int) -> dict[str, tuple]:
    """(p50, p99) in ms per request: `count` timed requests after 20 warm-ups, over `concurrency` connections."""
    clients = [Http(port) for _ in range(concurrency)]
    figures = {}
    try:
        for label, request in requests:
            for http in clients:
                for _ in range(max(1, 20 // concurrency)):
                    _seconds, status, body = http.get(request)
                    if status != (304 if b"If-None-Match" in request else 200):
                        raise SystemExit(f"{label}: answered {status}: {body[:300]!r}")
            samples: list[float] = []
            lock = threading.Lock()

            def run(http: Http, share: int, samples=samples, lock=lock, request=request) -> None:
                mine = [http.get(request)[0] for _ in range(share)]
                with lock:
                    samples.extend(mine)

            shares = [count // concurrency + (1 if n < count % concurrency else 0) for n in range(concurrency)]
            threads = [threading.Thread(target=run, args=(http, share)) for http, share in zip(clients, shares)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            figures[label] = (_percentile(samples, 0.5) * 1000, _percentile(samples, 0.99) * 1000)
    finally:
        for http in clients:
            http.close()
    return figures


def measure_all(tenants: dict, args) -> dict[int, dict]:
    port = free_port()
    server = gunicorn_start(port, workers=args.workers, threads=args.threads, env=SERVER_ENV)
    try:
        requests = requests_measured(tenants, datetime.now(UTC).date())
        return {c: measure(port, requests, args.requests, c) for c in (1, 8)}
    finally:
        server.terminate()
        server.wait(10)


# --- The run ------------------------------------------------------------------------------------------------


def _fresh_database() -> None:
    name = settings.DATABASES["default"]["NAME"]
    if "bench" not in name:
        raise SystemExit(f"--fresh drops the database: refusing {name!r} (its name must contain 'bench')")
    connection.close()
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or None, port=db["PORT"] or None, dbname="postgres", user=db["USER"] or None, autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def _sizes() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class WHERE relname IN "
            "('usage_usagerecord', 'billing_ledgerentry', 'usage_usageday', 'usage_usagedaynumber', "
            "'usage_usageagencyday') ORDER BY relname"
        )
        return ", ".join(f"{name} {size}" for name, size in cursor.fetchall())


def _big_calls(tenants: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(calls), 0) FROM usage_usageday WHERE organization_id = %s", [tenants["big"]]
        )
        return cursor.fetchone()[0]


def stage(tenants: dict, args, *, have: int, want: int) -> dict:
    print(f"\nLoading calls {have:,} -> {want:,} in SQL (not through the API) ...", flush=True)
    timings = load(tenants, have=have, want=want)
    timings.update(checks())
    big_calls = _big_calls(tenants)
    print(
        f"  {want:,} calls (big client {big_calls:,} this month); "
        + ", ".join(f"{k} {v:,.1f} s" for k, v in timings.items())
        + " (ledger_check and usage_check passed)"
    )
    print(f"  sizes: {_sizes()}", flush=True)
    figures = measure_all(tenants, args)
    return {"timings": timings, "figures": figures, "calls": want}


def report(small: dict, big: dict, args) -> None:
    s, b = small["calls"], big["calls"]
    print(
        f"\nRead latency in ms, PostgreSQL {connection.pg_version // 10000}, gunicorn gthread {args.workers} "
        f"worker(s) x {args.threads} thread(s), keep-alive. Each figure: {args.requests} timed requests after "
        f"warm-up; '8 conn': the same number spread over 8 connections at once. Calls generated in SQL."
    )
    header = (
        f"{'request':44} {f'p50 {s:,}':>10} {f'p50 {b:,}':>12} {'ratio':>6} {f'p99 {b:,}':>12} {'8 conn p50/p99':>15}"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for label in small["figures"][1]:
        p50_small = small["figures"][1][label][0]
        p50, p99 = big["figures"][1][label]
        c50, c99 = big["figures"][8][label]
        ratio = p50 / p50_small
        print(f"{label:44} {p50_small:10.1f} {p50:12.1f} {ratio:6.2f} {p99:12.1f} {c50:7.1f}/{c99:<7.1f}")
        if "comparison" in label:
            continue
        if p99 >= 50:
            missed.append(f"{label}: p99 {p99:.1f} ms")
        if ratio >= 2:
            missed.append(f"{label}: ratio {ratio:.2f}")
    print(
        f"\n{s:,}-call figures at 8 connections: "
        + "; ".join(f"{label.split(' (')[0]} {v[0]:.1f}/{v[1]:.1f}" for label, v in small["figures"][8].items())
    )
    print(
        "targets (p99 < 50 ms at the large size, p50 ratio < 2, every summary, one connection): "
        + ("all met" if not missed else "MISSED: " + "; ".join(missed))
    )


def measure_again(args) -> None:
    """--reuse: new keys and sessions for the big client and its agency's admin, then the figures at today's size."""
    call_command("collectstatic", interactive=False, verbosity=0)
    big = Organization.objects.get(name="Big client")
    tenants = {
        "big": big.pk,
        "client_key": keys.api_key_create(name="bench", organization=big).secret,
        "agency_key": keys.api_key_create(name="bench", agency=big.agency).secret,
        "client_session": _session(big.owner),
        "admin_session": _session(User.objects.get(managed_agency=big.agency)),
        "slug": big.agency.slug,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usagerecord")
        calls = cursor.fetchone()[0]
    figures = measure_all(tenants, args)
    print(f"\nRead latency in ms at {calls:,} calls (big client {_big_calls(tenants):,}), as loaded earlier:")
    print(f"{'request':44} {'p50':>7} {'p99':>7} {'8 conn p50/p99':>15}")
    for label, (p50, p99) in figures[1].items():
        c50, c99 = figures[8][label]
        print(f"{label:44} {p50:7.1f} {p99:7.1f} {c50:7.1f}/{c99:<7.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls at the large size (default 10 M)")
    parser.add_argument("--small", type=int, default=10_000, help="calls at the small size (default 10,000)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per figure (default 300)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4, as the README)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4, as the README)")
    parser.add_argument("--fresh", action="store_true", help="drop and create the database first")
    parser.add_argument(
        "--reuse", action="store_true", help="load nothing: measure again the database an earlier run loaded"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run against PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_readsbench")
    if args.reuse:
        measure_again(args)
        return
    if args.fresh:
        _fresh_database()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as the README's deploy does
    if Agency.objects.exists():
        raise SystemExit("The database already holds agencies: give --fresh (drops it) or an empty database")
    started = time.perf_counter()
    tenants = tenants_create()
    print(f"10 agencies x 100 clients created in {time.perf_counter() - started:.1f} s (through the services)")
    small = stage(tenants, args, have=0, want=args.small)
    big = stage(tenants, args, have=args.small, want=args.calls)
    report(small, big, args)


if __name__ == "__main__":
    main()

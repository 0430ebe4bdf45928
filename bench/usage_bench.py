"""Usage sync throughput: the HTTP API beside a raw-SQL floor, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/usage_bench.py

Not a test: it prints, for single records and batches of 100 and 1,000,
records applied per second through POST /api/v1/usage (served by gunicorn,
started here on a free loopback port, one keep-alive connection), beside a
floor: psycopg alone doing the same work in one transaction per request
(lock the agency and its clients, look for earlier records, insert records
and ledger entries, one conditional UPDATE per account), and the ratio.
Then the correctness totals, ledger_check and usage_check. Rounds of API and
floor alternate, so load from elsewhere on the machine hits both alike. The
database must be PostgreSQL; the script migrates it and adds fresh agencies,
so it can be run again.

Two other modes (bench/README.md has their figures):
  --sustained [ROWS]  from an empty usage table to ROWS (10,000,000) records in
                      batches of 1,000, one request at a time over 10 agencies
                      x 100 clients; records/s per million (per tenth below
                      10 M), then table and index sizes. --path floor for the floor.
  --hot               16 single-record ingests in flight (16 client threads,
                      gunicorn 2 workers x 8 threads), all for one agency, then
                      spread over 16; records/s, p50/p99, and what the holder of
                      the contended lock was doing (sampled from pg_stat_activity).
"""

import argparse
import json
import os
import queue
import random
import signal
import socket
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
from bench.servers import SERVER_ENV  # noqa: E402

os.environ.update(SERVER_ENV)

import django  # noqa: E402

from bench.servers import free_port, gunicorn_start  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402

from agencies.models import Agency, Organization  # noqa: E402
from billing import ledger  # noqa: E402
from billing.models import LedgerEntry  # noqa: E402
from usage import keys  # noqa: E402
from usage.models import UsageRecord  # noqa: E402
from usage.rollups import rollup_rows, rollups_upsert_pg, usage_rollups_check  # noqa: E402

CLIENTS = 50
START_BALANCE = 10**9


def _tenant(label: str, clients: int = CLIENTS) -> tuple[Agency, list[int]]:
    agency = Agency.objects.create(company_name=f"bench {label}")
    ledger.minutes_add(
        agency=agency, amount=START_BALANCE, description="bench", actor=None, reference=f"bench:{uuid.uuid4()}"
    )
    org_ids = []
    for n in range(clients):
        org = Organization.objects.create(agency=agency, name=f"bench client {n}")
        ledger.credits_allocate(
            organization=org, amount=START_BALANCE, description="bench", actor=None, reference=f"bench:{uuid.uuid4()}"
        )
        org_ids.append(org.pk)
    return agency, org_ids


def _records(org_ids: list[int], count: int, run: str) -> list[dict]:
    now = datetime.now(UTC) - timedelta(minutes=10)
    return [
        {
            "id": f"{run}-{uuid.uuid4().hex}",
            "organization_id": random.choice(org_ids),
            "duration_sec": random.randint(1, 900),
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "number_id": f"number-{random.randint(1, 20)}",
            "direction": random.choice(["inbound", "outbound"]),
        }
        for _ in range(count)
    ]


# --- The API, over HTTP ----------------------------------------------------------


class Http:
    """A lean keep-alive HTTP/1.1 client: the client's own CPU would otherwise count against the API."""

    def __init__(self, port: int, key: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        self.head = (
            f"POST /api/v1/usage HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        )

    def post_usage(self, body) -> dict:
        return self.post_body(json.dumps(body).encode())

    def post_body(self, data: bytes) -> dict:
        self.sock.sendall(f"{self.head}{len(data)}\r\n\r\n".encode() + data)
        status = int(self.reader.readline().split()[1])
        length = 0
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = json.loads(self.reader.read(length))
        if status not in (200, 201):
            raise SystemExit(f"API answered {status}: {answer}")
        return answer


def api_round(http_client: Http, requests: list[list[dict]]) -> int:
    applied = 0
    for records in requests:
        if len(records) == 1:
            applied += http_client.post_usage(records[0])["status"] == "applied"
        else:
            applied += http_client.post_usage({"records": records})["counts"]["applied"]
    return applied


def in_parallel(workers: list, work, requests: list[list[dict]]) -> int:
    """Share `requests` among the workers (one thread each); total records applied."""
    if len(workers) == 1:
        return work(workers[0], requests)
    shares = [requests[i :: len(workers)] for i in range(len(workers))]
    with ThreadPoolExecutor(len(workers)) as pool:
        return sum(pool.map(work, workers, shares))


# --- The floor: psycopg alone, the same statements ----------------------------------
# The very SQL the app sends (core/db.py, billing/ledger.py, usage/ingest.py) with the
# same prepare policy (statements of at most 60 parameters are prepared), so the ratio
# measures what Django, JSON and HTTP add, nothing else.

PREPARE_MAX_PARAMS = 60
RECORD_COLUMNS = (
    '"agency_id", "organization_id", "record_id", "duration_sec", "minutes", "created_at", '
    '"number_id", "direction", "reservation_id", "overdraft", "received_at"'
)
ENTRY_COLUMNS = (
    '"organization_id", "agency_id", "amount", "kind", "reference", "balance_after", "actor_id", '
    '"description", "created_at", "usage_client_id"'
)


def _run(cur, sql: str, params: list):
    return cur.execute(sql, params, prepare=len(params) <= PREPARE_MAX_PARAMS)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


LOCK_HOLDS: list[float] = []  # seconds, one per floor transaction (list.append is thread-safe)


def floor_round(floor: tuple, requests: list[list[dict]]) -> int:
    conn, agency_id = floor
    applied = 0
    for records in requests:
        with conn.transaction(), conn.cursor() as cur:
            (agency_balance,) = _run(
                cur, 'SELECT "minutes_balance" FROM "agencies_agency" WHERE id = %s FOR UPDATE', [agency_id]
            ).fetchone()
            locked_at = time.perf_counter()
            org_ids = sorted({r["organization_id"] for r in records})
            balances = dict(
                _run(
                    cur,
                    f'SELECT id, "credits_balance" FROM "agencies_organization" WHERE "agency_id" = %s '
                    f"AND id IN ({_marks(len(org_ids))}) ORDER BY id FOR UPDATE",
                    [agency_id, *org_ids],
                ).fetchall()
            )
            ids = [r["id"] for r in records]
            seen = {
                row[0]
                for row in _run(
                    cur,
                    f'SELECT "record_id", "organization_id", "duration_sec", "created_at", "number_id", "direction", '
                    f'"reservation_id" FROM "usage_usagerecord" WHERE "agency_id" = %s AND "record_id" IN ({_marks(len(ids))})',
                    [agency_id, *ids],
                ).fetchall()
            }
            now = datetime.now(UTC)
            old_agency, old_orgs = agency_balance, dict(balances)
            record_rows, entry_rows = [], []
            for r in records:
                if r["id"] in seen:
                    continue
                minutes = (r["duration_sec"] + 59) // 60
                balances[r["organization_id"]] -= minutes
                agency_balance -= minutes
                record_rows.append(
                    (
                        agency_id,
                        r["organization_id"],
                        r["id"],
                        r["duration_sec"],
                        minutes,
                        datetime.fromisoformat(r["created_at"]),
                        r["number_id"],
                        r["direction"],
                        None,
                        False,
                        now,
                    )
                )
                ref, text = f"usage:{r['id']}", f"Call {r['id']}"
                entry_rows.append(
                    (
                        r["organization_id"],
                        None,
                        -minutes,
                        "usage",
                        ref,
                        balances[r["organization_id"]],
                        None,
                        text,
                        now,
                        None,
                    )
                )
                entry_rows.append(
                    (None, agency_id, -minutes, "usage", ref, agency_balance, None, text, now, r["organization_id"])
                )
            _insert(cur, "billing_ledgerentry", ENTRY_COLUMNS, entry_rows)
            _swap(cur, "agencies_agency", "minutes_balance", {agency_id: (old_agency, agency_balance)})
            _swap(
                cur,
                "agencies_organization",
                "credits_balance",
                {pk: (old_orgs[pk], balances[pk]) for pk in org_ids if balances[pk] != old_orgs[pk]},
            )
            _insert(cur, "usage_usagerecord", RECORD_COLUMNS, record_rows)
            if record_rows:
                # The app's one rollup upsert (usage.rollups), same SQL, same parameters, prepared.
                _run(
                    cur, *rollups_upsert_pg(*rollup_rows(agency_id=agency_id, records=map(_Applied._make, record_rows)))
                )
            applied += len(record_rows)
        # How long the agency row stayed locked: from its FOR UPDATE to the commit's answer (fsync included).
        LOCK_HOLDS.append(time.perf_counter() - locked_at)
    return applied


class _Applied(NamedTuple):
    """A floor record row, with the attribute names usage.rollups.rollup_rows reads."""

    agency_id: int
    organization_id: int
    record_id: str
    duration_sec: int
    minutes: int
    created_at: datetime
    number_id: str
    direction: str
    reservation_id: None
    overdraft: bool
    received_at: datetime


def _insert(cur, table: str, columns: str, rows: list[tuple]) -> None:
    if len(rows) >= 20:
        with cur.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    elif rows:
        row_sql = f"({_marks(len(rows[0]))})"
        _run(
            cur,
            f'INSERT INTO "{table}" ({columns}) VALUES {", ".join([row_sql] * len(rows))}',
            [value for row in rows for value in row],
        )


def _swap(cur, table: str, column: str, changes: dict) -> None:
    if not changes:
        return
    whens = " ".join(["WHEN %s THEN %s"] * len(changes))
    _run(
        cur,
        f'UPDATE "{table}" SET "{column}" = CASE "id" {whens} END WHERE "id" IN ({_marks(len(changes))}) '
        f'AND "{column}" = CASE "id" {whens} END',
        [v for pk, (_o, new) in changes.items() for v in (pk, new)]
        + list(changes)
        + [v for pk, (old, _n) in changes.items() for v in (pk, old)],
    )
    assert cur.rowcount == len(changes)


# --- The run ----------------------------------------------------------------------


def check_totals(agency: Agency, expected_records: int) -> dict:
    records = UsageRecord.objects.filter(agency=agency)
    minutes = records.aggregate(total=Sum("minutes"))["total"] or 0
    agency_debits = -(LedgerEntry.objects.filter(agency=agency, kind="usage").aggregate(t=Sum("amount"))["t"] or 0)
    client_debits = -(
        LedgerEntry.objects.filter(organization__agency=agency, kind="usage").aggregate(t=Sum("amount"))["t"] or 0
    )
    agency.refresh_from_db()
    return {
        "records": records.count(),
        "expected_records": expected_records,
        "billed_minutes": minutes,
        "agency_debits": agency_debits,
        "client_debits": client_debits,
        "agency_balance_moved": START_BALANCE - agency.minutes_balance,
    }


def _floor_connection() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
    )


# --- Sustained: the table grows from empty to --sustained rows ------------------------------


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _spread_batch(org_ids: list[int], count: int, start: datetime, span: float, at: float | None) -> bytes:
    """A batch body as the platform sends it: random 128-bit ids, calls over the month so far.

    `at` (a fraction of the month so far): the calls ended in the ten minutes before that moment, as when
    the platform reports calls as they end and the month fills in order; None: anywhere in the month.
    Built as text rather than through json.dumps of dicts: the client's CPU shares the machine.
    """
    parts = []
    for _ in range(count):
        offset = random.random() * span if at is None else max(0.0, at * span - random.random() * 600)
        created = (start + timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")
        parts.append(
            f'{{"id":"{random.getrandbits(128):032x}","organization_id":{random.choice(org_ids)},'
            f'"duration_sec":{random.randint(1, 900)},"created_at":"{created}",'
            f'"number_id":"number-{random.randint(1, 20)}","direction":"{random.choice(("inbound", "outbound"))}"}}'
        )
    return ('{"records":[' + ",".join(parts) + "]}").encode()


SIZES_SQL = """
SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid)
FROM pg_class c WHERE c.relname = ANY(%s) ORDER BY 1
"""
SIZED_TABLES = [
    "usage_usagerecord",
    "billing_ledgerentry",
    "usage_usageday",
    "usage_usagedaynumber",
    "usage_usageagencyday",
]
# Per step: WAL written, shared-buffer misses of the two big tables' indexes, checkpoints.
PROBE_SQL = """
SELECT pg_current_wal_lsn(),
       (SELECT coalesce(sum(idx_blks_read), 0) FROM pg_statio_user_indexes
        WHERE relname IN ('usage_usagerecord', 'billing_ledgerentry')),
       (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
       pg_total_relation_size('usage_usagerecord')
"""


def _probe(conn) -> tuple:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute(PROBE_SQL).fetchone()


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def sustained(args) -> None:
    """Batches of 1,000 through the API (or the floor) from an empty usage table to args.sustained rows."""
    if UsageRecord.objects.exists():
        raise SystemExit("--sustained starts from an empty usage table: drop and create the database first")
    total = args.sustained
    step = 1_000_000 if total >= 10_000_000 else max(1000, total // 10 // 1000 * 1000)
    tenants = [_tenant(f"sustained {n}", clients=args.clients) for n in range(args.agencies)]
    now = datetime.now(UTC)
    start = _month_start(now)
    span = (now - timedelta(minutes=1) - start).total_seconds()
    server = None
    if args.path == "api":
        port = free_port()
        server = gunicorn_start(port, workers=args.workers, threads=args.threads, env=SERVER_ENV)
        senders = [Http(port, keys.api_key_create(name="bench", agency=a).secret) for a, _ in tenants]
    else:
        floors = [(_floor_connection(), a.pk) for a, _ in tenants]
    monitor = _floor_connection()
    monitor.autocommit = True
    bodies: queue.Queue = queue.Queue(maxsize=8)

    def produce():  # a thread: the next batches are built while the server works on this one
        batches = total // 1000
        for n in range(batches):
            tenant = n % len(tenants)
            at = None if args.created_at == "random" else (n + 1) / batches
            bodies.put((tenant, _spread_batch(tenants[tenant][1], 1000, start, span, at)))

    threading.Thread(target=produce, daemon=True).start()
    print(
        f"Sustained ingest through the {args.path}: {total:,} records in batches of 1,000, "
        f"{args.agencies} agencies x {args.clients} clients (round robin, one request at a time), "
        f"created_at over {start:%Y-%m} so far ({args.created_at}), random 128-bit record ids"
        + (f"; gunicorn gthread {args.workers} worker(s) x {args.threads} thread(s)" if server else "")
    )
    print(f"{'rows':>12} {'records/s':>10} {'usage table':>12} {'WAL/record':>11} {'idx reads/rec':>14} {'ckpts':>6}")
    rates = []
    done = 0
    began = time.perf_counter()
    # SIGINT or SIGTERM stops at the step reached and still reports; explicit, because a shell's
    # background job starts with SIGINT ignored, and Python then installs no handler of its own.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.default_int_handler)
    try:
        while done < total:  # Ctrl-C (SIGINT) stops at the step reached and still reports it
            before = _probe(monitor)
            started = time.perf_counter()
            for _ in range(step // 1000):
                tenant, body = bodies.get()
                if server:
                    answer = senders[tenant].post_body(body)
                    assert answer["counts"]["applied"] == 1000, answer["counts"]
                else:
                    records = json.loads(body)["records"]
                    assert floor_round(floors[tenant], [records]) == 1000
            elapsed = time.perf_counter() - started
            done += step
            after = _probe(monitor)
            wal = monitor.execute("SELECT pg_wal_lsn_diff(%s, %s)", [after[0], before[0]]).fetchone()[0]
            rates.append(step / elapsed)
            print(
                f"{done:>12,} {rates[-1]:>10,.0f} {_mb(after[3]):>12} {float(wal) / step:>9,.0f} B "
                f"{(after[1] - before[1]) / step:>14.2f} {after[2] - before[2]:>6}",
                flush=True,
            )
    except KeyboardInterrupt:
        print(f"stopped by a signal during the step after {done:,} rows")
    finally:
        if server:
            server.terminate()
            server.wait(10)
    print(f"{done:,} records in {time.perf_counter() - began:,.0f} s")
    ratio = rates[-1] / rates[0] if rates else 0.0
    print(
        f"last step / first step: {rates[-1] if rates else 0:,.0f} / {rates[0] if rates else 0:,.0f} records/s = {ratio:.0%} "
        f"(target >= 70%: {'met' if ratio >= 0.7 else 'MISSED'})"
    )
    print("\nSizes (table + indexes; table; indexes)")
    for name, whole, heap, indexes in monitor.execute(SIZES_SQL, [SIZED_TABLES]).fetchall():
        print(f"  {name:24} {_mb(whole):>10} {_mb(heap):>10} {_mb(indexes):>10}")
    index_sizes = monitor.execute(
        "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes "
        "WHERE relname IN ('usage_usagerecord', 'billing_ledgerentry') ORDER BY 2 DESC"
    ).fetchall()
    print("  indexes: " + ", ".join(f"{name} {_mb(size)}" for name, size in index_sizes))
    monitor.close()
    print()
    invariants_print()


# --- Hot agency: 16 single-record ingests at once, for one agency or for 16 ----------------------------

# The backends holding a lock someone waits for, and what each is doing (sampled).
HOLDERS_SQL = """
SELECT DISTINCT h.pid, h.state, coalesce(h.wait_event_type || ':' || h.wait_event, 'cpu'), w.waiting
FROM (SELECT unnest(pg_blocking_pids(pid)) AS pid, count(*) OVER () AS waiting
      FROM pg_stat_activity WHERE wait_event_type = 'Lock') w
JOIN pg_stat_activity h ON h.pid = w.pid AND h.wait_event_type IS DISTINCT FROM 'Lock'
"""


def _sample_locks(stop: threading.Event, samples: list) -> None:
    """Every 10 ms: how many backends wait for a lock, and what those holding it (waiting for none) are doing.

    The holder's state splits the lock's hold time: 'idle in transaction/Client:ClientRead' is the app's
    (or floor's) turn, between statements; 'active/IO:WALSync' the commit's fsync; 'active/cpu' a statement.
    """
    conn = _floor_connection()
    conn.autocommit = True
    while not stop.is_set():
        rows = conn.execute(HOLDERS_SQL).fetchall()
        samples.append(rows)
        stop.wait(0.01)
    conn.close()


def _hot_run(senders: list, work, seconds: float) -> dict:
    """Each sender (a thread) sends single records for `seconds`; throughput, latencies, lock samples."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def loop(sender):
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            work(sender)
            mine.append(time.perf_counter() - started)
        return mine

    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=_sample_locks, args=(stop, samples))
    sampler.start()
    began = time.perf_counter()
    with ThreadPoolExecutor(len(senders)) as pool:
        for mine in pool.map(loop, senders):
            latencies.extend(mine)
    elapsed = time.perf_counter() - began
    stop.set()
    sampler.join()
    latencies.sort()
    waiting = [rows[0][3] if rows else 0 for rows in samples]
    states: dict[str, int] = {}
    for rows in samples:
        for _pid, state, wait, _n in rows:
            states[f"{state}/{wait}"] = states.get(f"{state}/{wait}", 0) + 1
    rate = len(latencies) / elapsed
    return {
        "rate": rate,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "waiting": statistics.mean(waiting) if waiting else 0.0,
        "holder_states": states,
        "samples": len(samples),
    }


def hot(args) -> None:
    """16 (--hot-clients) single-record ingests in flight: all for one agency, then spread over as many agencies."""
    n = args.hot_clients
    tenants = [_tenant(f"hot {i}") for i in range(n)]
    floor_tenants = [_tenant(f"hot floor {i}") for i in range(n)]
    port = free_port()
    server = gunicorn_start(port, workers=args.workers, threads=args.threads, env=SERVER_ENV)
    secrets = [keys.api_key_create(name="bench", agency=a).secret for a, _ in tenants]

    def api_one(sender):
        http_client, orgs = sender
        answer = http_client.post_body(json.dumps(_records(orgs, 1, "hot")[0]).encode())
        assert answer["status"] == "applied", answer

    def floor_one(sender):
        floor, orgs = sender
        floor_round(floor, [_records(orgs, 1, "hot")])

    results = {}
    try:
        shapes = {
            "one agency": [0] * n,
            f"{n} agencies": list(range(n)),
        }
        for shape, which in shapes.items():
            api = [(Http(port, secrets[i]), tenants[i][1]) for i in which]
            _hot_run(api, api_one, 2)  # warm up: every gunicorn thread and connection
            results[("API", shape)] = _hot_run(api, api_one, args.hot_seconds)
            floors = [((_floor_connection(), floor_tenants[i][0].pk), floor_tenants[i][1]) for i in which]
            _hot_run(floors, floor_one, 2)
            LOCK_HOLDS.clear()
            results[("floor", shape)] = _hot_run(floors, floor_one, args.hot_seconds)
            holds = sorted(LOCK_HOLDS)
            results[("floor", shape)]["hold"] = (statistics.mean(holds) * 1000, holds[len(holds) // 2] * 1000)
            for (conn, _a), _o in floors:
                conn.close()
    finally:
        server.terminate()
        server.wait(10)
    # The lock hold of one transaction alone: the serial floor, one agency.
    serial = [((_floor_connection(), floor_tenants[0][0].pk), floor_tenants[0][1])]
    _hot_run(serial, floor_one, 1)
    LOCK_HOLDS.clear()
    alone = _hot_run(serial, floor_one, 5)
    alone_hold = statistics.mean(LOCK_HOLDS) * 1000
    serial[0][0][0].close()

    print(
        f"\nHot agency: {n} clients at once, each its own keep-alive connection, single-record ingests for "
        f"{args.hot_seconds:.0f} s; gunicorn gthread {args.workers} worker(s) x {args.threads} thread(s)"
    )
    print(f"{'':22} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'lock waiters':>13}")
    for (path, shape), r in results.items():
        print(f"{path + ', ' + shape:22} {r['rate']:>10,.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['waiting']:>13.1f}")
    for (path, shape), r in results.items():
        total = sum(r["holder_states"].values()) or 1
        shown = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(r["holder_states"].items(), key=lambda kv: -kv[1]))
        print(f"  {path}, {shape}: what the lock holder was doing ({r['samples']} samples): {shown or 'no waits seen'}")
    for shape in shapes:
        mean, p50 = results[("floor", shape)]["hold"]
        print(f"  floor, {shape}: agency row held {mean:.2f} ms mean, {p50:.2f} ms p50 (FOR UPDATE to commit)")
    print(
        f"  floor, one client alone: {alone['rate']:,.0f} records/s, agency row held {alone_hold:.2f} ms "
        f"-> at most {1000 / alone_hold:,.0f} transactions/s for one agency"
    )
    for path in ("API", "floor"):
        r = results[(path, "one agency")]
        waited = r["waiting"] / r["rate"] * 1000
        print(f"  {path}, one agency: by Little's law each request waited {waited:.1f} ms for the lock on average")
    print()
    invariants_print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="alternating API/floor rounds per size")
    parser.add_argument("--single", type=int, default=400, help="single-record requests per round")
    parser.add_argument("--batch100", type=int, default=20, help="100-record batches per round")
    parser.add_argument("--batch1000", type=int, default=4, help="1,000-record batches per round")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="clients sending at once, for the API and for the floor alike (default 1)",
    )
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default 1; --hot: 2)")
    parser.add_argument(
        "--threads",
        type=int,
        help="threads per gunicorn worker (default 4, as in the README's deploy command; --hot: 8)",
    )
    parser.add_argument(
        "--sustained",
        type=int,
        nargs="?",
        const=10_000_000,
        metavar="ROWS",
        help="instead: batches of 1,000 from an empty usage table to ROWS rows (default 10,000,000), "
        "records/s per million (per tenth below 10 M)",
    )
    parser.add_argument("--path", choices=["api", "floor"], default="api", help="--sustained through (default api)")
    parser.add_argument(
        "--created-at",
        choices=["ordered", "random"],
        default="ordered",
        help="--sustained: calls' times fill the month so far in order as the table grows, with ten minutes "
        "of jitter (default: the platform reports calls as they end), or fall anywhere in it",
    )
    parser.add_argument("--agencies", type=int, default=10, help="--sustained: agencies (default 10)")
    parser.add_argument("--clients", type=int, default=100, help="--sustained: clients per agency (default 100)")
    parser.add_argument(
        "--hot", action="store_true", help="instead: concurrent single-record ingests, one agency vs many"
    )
    parser.add_argument("--hot-clients", type=int, default=16, help="--hot: requests in flight (default 16)")
    parser.add_argument("--hot-seconds", type=float, default=15, help="--hot: seconds per measurement (default 15)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run against PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench")
    if args.workers is None:
        args.workers = 2 if args.hot else 1
    if args.threads is None:
        args.threads = 8 if args.hot else 4
    if args.hot and args.workers * args.threads < args.hot_clients:
        raise SystemExit("--hot needs workers x threads >= --hot-clients, so every request is in flight at once")

    call_command("migrate", verbosity=0)
    if args.sustained:
        return sustained(args)
    if args.hot:
        return hot(args)
    api_agency, api_orgs = _tenant("api")
    floor_agency, floor_orgs = _tenant("floor")
    secret = keys.api_key_create(name="bench", agency=api_agency).secret
    port = free_port()
    server = gunicorn_start(port, workers=args.workers, threads=args.threads, env=SERVER_ENV)
    http_clients = [Http(port, secret) for _ in range(args.concurrency)]
    floors = [(_floor_connection(), floor_agency.pk) for _ in range(args.concurrency)]
    paths = {"api": (http_clients, api_round, api_orgs), "floor": (floors, floor_round, floor_orgs)}
    sizes = [("single", 1, args.single), ("batch 100", 100, args.batch100), ("batch 1,000", 1000, args.batch1000)]
    expected = {"api": 0, "floor": 0}
    results = {}
    try:
        for path, (workers, work, orgs) in paths.items():
            # Warm up (connections, imports, plans); not timed.
            expected[path] += in_parallel(
                workers, work, [_records(orgs, 1, "warm") for _ in range(20)] + [_records(orgs, 100, "warm")]
            )
        for label, size, count in sizes:
            rates = {"api": [], "floor": []}
            for round_no in range(args.rounds):
                for path, (workers, work, orgs) in paths.items():
                    requests = [_records(orgs, size, f"{path}{round_no}") for _ in range(count)]
                    started = time.perf_counter()
                    applied = in_parallel(workers, work, requests)
                    elapsed = time.perf_counter() - started
                    assert applied == size * count, (path, applied)
                    expected[path] += applied
                    rates[path].append(applied / elapsed)
            results[label] = (statistics.median(rates["api"]), statistics.median(rates["floor"]))
    finally:
        server.terminate()
        server.wait(10)
        for conn, _agency in floors:
            conn.close()

    print(
        f"\nUsage records applied per second: median of {args.rounds} alternating rounds, PostgreSQL "
        f"{connection.pg_version // 10000}, {args.concurrency} client(s) at once; API through gunicorn "
        f"(gthread, {args.workers} worker(s) x {args.threads} thread(s), keep-alive)"
    )
    print(f"{'':12} {'API':>10} {'floor':>10} {'API/floor':>10}")
    for label, (api_rate, floor_rate) in results.items():
        print(f"{label:12} {api_rate:10,.0f} {floor_rate:10,.0f} {api_rate / floor_rate:10.0%}")
    single, batch = results["single"][0], results["batch 1,000"][0]
    print(f"batch 1,000 / single through the API: {batch / single:.1f}x")
    targets = [
        ("batch 1,000 >= 10,000 records/s", batch >= 10_000),
        ("batch 1,000 >= 60% of its floor", batch >= 0.6 * results["batch 1,000"][1]),
        ("single >= 50% of its floor", single >= 0.5 * results["single"][1]),
        ("batch >= 3x single", batch >= 3 * single),
    ]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in targets))

    print("\nCorrectness")
    for label, agency in (("API", api_agency), ("floor", floor_agency)):
        totals = check_totals(agency, expected["api" if label == "API" else "floor"])
        ok = (
            totals["records"] == totals["expected_records"]
            and totals["agency_debits"]
            == totals["client_debits"]
            == totals["billed_minutes"]
            == totals["agency_balance_moved"]
        )
        print(f"{label:6} {'ok' if ok else 'WRONG'}: " + ", ".join(f"{k} {v:,}" for k, v in totals.items()))
    invariants_print()


def invariants_print() -> bool:
    """ledger_check and usage_check, as the management commands run them; True when both are clean."""
    problems = ledger.balances_check()
    print("ledger_check:", "clean" if not problems else f"{len(problems)} accounts off: {problems[:3]}")
    mismatches = usage_rollups_check()
    print(
        "usage_check:",
        "clean" if not mismatches else f"{len(mismatches)} rollup rows off: {[str(m) for m in mismatches[:3]]}",
    )
    return not problems and not mismatches


if __name__ == "__main__":
    main()

"""Usage sync throughput: the HTTP API beside a raw-SQL floor, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/usage_bench.py

Not a test: it prints, for single records and batches of 100 and 1,000,
records applied per second through POST /api/v1/usage (served by gunicorn,
started here on a free loopback port, one keep-alive connection), beside a
floor: psycopg alone doing the same work in one transaction per request
(lock the agency and its clients, look for earlier records, insert records
and ledger entries, one conditional UPDATE per account), and the ratio.
Then the correctness totals. Rounds of API and floor alternate, so load from
elsewhere on the machine hits both alike. The database must be PostgreSQL;
the script migrates it and adds fresh agencies, so it can be run again.
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
SERVER_ENV = {
    "DEBUG": "0",
    "PORTAL_HTTPS": "0",
    "PORTAL_BASE_DOMAIN": "localhost",
    "LOG_LEVEL": "ERROR",
    "API_RATE_LIMIT_PER_MINUTE": str(10**9),
}
os.environ.update(SERVER_ENV)

import django  # noqa: E402

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

CLIENTS = 50
START_BALANCE = 10**9


def _tenant(label: str) -> tuple[Agency, list[int]]:
    agency = Agency.objects.create(company_name=f"bench {label}")
    ledger.minutes_add(
        agency=agency, amount=START_BALANCE, description="bench", actor=None, reference=f"bench:{uuid.uuid4()}"
    )
    org_ids = []
    for n in range(CLIENTS):
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, **SERVER_ENV}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


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
        data = json.dumps(body).encode()
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
    '"description", "created_at"'
)


def _run(cur, sql: str, params: list):
    return cur.execute(sql, params, prepare=len(params) <= PREPARE_MAX_PARAMS)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def floor_round(floor: tuple, requests: list[list[dict]]) -> int:
    conn, agency_id = floor
    applied = 0
    for records in requests:
        with conn.transaction(), conn.cursor() as cur:
            (agency_balance,) = _run(
                cur, 'SELECT "minutes_balance" FROM "agencies_agency" WHERE id = %s FOR UPDATE', [agency_id]
            ).fetchone()
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
                    )
                )
                entry_rows.append((None, agency_id, -minutes, "usage", ref, agency_balance, None, text, now))
            _insert(cur, "billing_ledgerentry", ENTRY_COLUMNS, entry_rows)
            _swap(cur, "agencies_agency", "minutes_balance", {agency_id: (old_agency, agency_balance)})
            _swap(
                cur,
                "agencies_organization",
                "credits_balance",
                {pk: (old_orgs[pk], balances[pk]) for pk in org_ids if balances[pk] != old_orgs[pk]},
            )
            _insert(cur, "usage_usagerecord", RECORD_COLUMNS, record_rows)
            applied += len(record_rows)
    return applied


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
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes (default 1)")
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (default 4, as in the README's deploy command)",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run against PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench")

    call_command("migrate", verbosity=0)
    api_agency, api_orgs = _tenant("api")
    floor_agency, floor_orgs = _tenant("floor")
    secret = keys.api_key_create(name="bench", agency=api_agency).secret
    port = _free_port()
    server = _start_server(port, workers=args.workers, threads=args.threads)
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
    problems = ledger.balances_check()
    print("ledger_check:", "clean" if not problems else f"{len(problems)} accounts off: {problems[:3]}")


if __name__ == "__main__":
    main()

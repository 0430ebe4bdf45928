"""Daily usage rollups: every summary reads these, never the raw calls.

Three tables, keyed by the UTC day the calls happened (UsageRecord.created_at):
- UsageDay: one row per organization and day (calls, seconds, billed minutes,
  the day's last call): a client's figures, history and chart, and the
  summaries grouped by client.
- UsageAgencyDay: one row per agency and day, the sum of the above, so an
  agency's month, chart, coverage and per-day summaries read a row a day
  however many clients it has.
- UsageDayNumber: one row per organization, day, direction and number, read
  only by the summaries grouped by number or by direction, so a client with
  thousands of numbers does not make every other summary read thousands of
  rows a day.

Writers, all under the agency's row lock (the one the ingest takes first), so
a rebuild and an ingest of the same agency never interleave:
- rollups_add: the ingest's batch, in the ingest's transaction; on PostgreSQL
  one statement for the three tables (data-modifying WITHs over unnest()
  arrays, one prepared shape for any batch), on SQLite one per table;
- usage_rollups_rebuild / rollups_rebuild_rows: recompute a range from the raw
  rows (DELETE, then INSERT ... SELECT ... GROUP BY);
- usage_rollups_check: the raw rows grouped against each table, a FULL OUTER
  JOIN in SQL that returns only the rows that differ.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

from agencies.models import Agency, Organization
from core import db

from .models import UsageAgencyDay, UsageDay, UsageDayNumber, UsageRecord
from .records import Incoming

DAY_FIELDS = ("agency", "organization", "day", "calls", "seconds", "minutes", "last_call_at")
NUMBER_FIELDS = ("agency", "organization", "day", "direction", "number_id", "calls", "seconds", "minutes")
AGENCY_FIELDS = ("agency", "day", "calls", "seconds", "minutes")


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _day_of(column: str) -> str:
    """SQL for the UTC day of a timestamp column (SQLite stores naive UTC text)."""
    if connection.vendor == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"


def _max_params() -> int:
    return connection.features.max_query_params or db.DEFAULT_MAX_PARAMS


# --- The ingest's upsert ----------------------------------------------------------------------------------


# PostgreSQL array types of the rollup columns, for the ingest's unnest() upsert.
_ARRAY_TYPES = {"day": "date", "last_call_at": "timestamptz", "direction": "text", "number_id": "text"}


def _upsert_sql(model: type[Model], fields: Sequence[str], keys: Sequence[str], source: str) -> str:
    target = db.table(model)
    sums = ("calls", "seconds", "minutes")
    assignments = [
        f"{db.column(model, f)} = {target}.{db.column(model, f)} + excluded.{db.column(model, f)}" for f in sums
    ]
    if "last_call_at" in fields:
        last = db.column(model, "last_call_at")
        assignments.append(
            f"{last} = CASE WHEN excluded.{last} > {target}.{last} THEN excluded.{last} ELSE {target}.{last} END"
        )
    return (
        f"INSERT INTO {target} ({', '.join(db.column(model, f) for f in fields)}) {source} "
        f"ON CONFLICT ({', '.join(db.column(model, k) for k in keys)}) DO UPDATE SET {', '.join(assignments)}"
    )


def _unnest(model: type[Model], fields: Sequence[str], keys: Sequence[str], rows: list[tuple]) -> tuple[str, list]:
    """PostgreSQL: one array per column, so the statement has one shape (and is prepared) whatever the batch."""
    arrays = ", ".join(f"%s::{_ARRAY_TYPES.get(f, 'bigint')}[]" for f in fields)
    return _upsert_sql(model, fields, keys, f"SELECT * FROM unnest({arrays})"), [list(column) for column in zip(*rows)]


def _prepared(model: type[Model], fields: Sequence[str], rows: list[tuple]) -> list[Any]:
    model_fields = [model._meta.get_field(name) for name in fields]
    return [f.get_db_prep_save(value, connection) for row in rows for f, value in zip(model_fields, row)]  # type: ignore[union-attr]


def _statements(model: type[Model], fields: Sequence[str], keys: Sequence[str], rows: list[tuple]):
    step = max(1, _max_params() // len(fields))
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        values = f"VALUES {', '.join([f'({db.placeholders(len(fields))})'] * len(part))}"
        yield _upsert_sql(model, fields, keys, values), _prepared(model, fields, part)


def rollup_rows(*, agency_id: int, records: Iterable[Incoming]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The rows `records` add to UsageDay, UsageAgencyDay and UsageDayNumber (in DAY_FIELDS, AGENCY_FIELDS,
    NUMBER_FIELDS order), each list in key order so that two writers of the same rows lock them alike."""
    days: dict[tuple[int, date], list] = {}
    numbers: dict[tuple[int, date, str, str], list[int]] = {}
    for r in records:
        day = utc_day(r.created_at)
        totals = days.setdefault((r.organization_id, day), [0, 0, 0, r.created_at])
        totals[0] += 1
        totals[1] += r.duration_sec
        totals[2] += r.minutes
        totals[3] = max(totals[3], r.created_at)
        by_number = numbers.setdefault((r.organization_id, day, r.direction, r.number_id), [0, 0, 0])
        by_number[0] += 1
        by_number[1] += r.duration_sec
        by_number[2] += r.minutes
    day_rows = [(agency_id, o, d, *totals) for (o, d), totals in sorted(days.items())]
    number_rows = [(agency_id, *key, *totals) for key, totals in sorted(numbers.items())]
    by_day: dict[date, list[int]] = {}
    for (_, day), (calls, seconds, minutes, _last) in sorted(days.items(), key=lambda item: item[0][1]):
        agency_totals = by_day.setdefault(day, [0, 0, 0])
        agency_totals[0] += calls
        agency_totals[1] += seconds
        agency_totals[2] += minutes
    agency_rows = [(agency_id, day, *totals) for day, totals in sorted(by_day.items())]
    return day_rows, agency_rows, number_rows


_DAY_KEYS = ("organization", "day")
_NUMBER_KEYS = ("organization", "day", "direction", "number_id")
_AGENCY_KEYS = ("agency", "day")


def rollups_upsert_pg(day_rows: list[tuple], agency_rows: list[tuple], number_rows: list[tuple]) -> tuple[str, list]:
    """PostgreSQL: the one statement (and its parameters) that adds rollup_rows' rows to the three tables.

    One round trip, one statement shape (prepared) for any batch: arrays through unnest(), and the
    day rollups as data-modifying WITHs, which PostgreSQL runs to completion though nothing reads them.
    bench/usage_bench.py's floor sends it too.
    """
    day_sql, day_params = _unnest(UsageDay, DAY_FIELDS, _DAY_KEYS, day_rows)
    agency_sql, agency_params = _unnest(UsageAgencyDay, AGENCY_FIELDS, _AGENCY_KEYS, agency_rows)
    number_sql, number_params = _unnest(UsageDayNumber, NUMBER_FIELDS, _NUMBER_KEYS, number_rows)
    return (
        f"WITH day_rollup AS ({day_sql}), agency_rollup AS ({agency_sql}) {number_sql}",
        [*day_params, *agency_params, *number_params],
    )


def rollups_add(*, agency_id: int, records: Iterable[Incoming]) -> None:
    """Add the applied `records` to their days' rollups: one statement per batch (two or more on SQLite).

    Inside the ingest's transaction, under its agency lock: the calls and their
    sums commit together or not at all.
    """
    day_rows, agency_rows, number_rows = rollup_rows(agency_id=agency_id, records=records)
    if not day_rows:
        return
    with db.hot_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(*rollups_upsert_pg(day_rows, agency_rows, number_rows))
            return
        statements = [
            *_statements(UsageDay, DAY_FIELDS, _DAY_KEYS, day_rows),
            *_statements(UsageAgencyDay, AGENCY_FIELDS, _AGENCY_KEYS, agency_rows),
            *_statements(UsageDayNumber, NUMBER_FIELDS, _NUMBER_KEYS, number_rows),
        ]
        for sql, params in statements:
            cursor.execute(sql, params)


# --- Rebuilding from the raw rows ---------------------------------------------------------------------------


def _raw_where(
    raw: type[Model], *, organization_id: int | None, start: date | None, end: date | None
) -> tuple[str, list]:
    clauses: list[str] = []
    params: list[Any] = []
    created = db.column(raw, "created_at")
    if organization_id is not None:
        clauses.append(f"{db.column(raw, 'organization')} = %s")
        params.append(organization_id)
    if start is not None:
        clauses.append(f"{created} >= %s")
        params.append(connection.ops.adapt_datetimefield_value(datetime.combine(start, time.min, tzinfo=UTC)))
    if end is not None:
        clauses.append(f"{created} < %s")
        params.append(
            connection.ops.adapt_datetimefield_value(datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC))
        )
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _rollup_where(
    model: type[Model], *, owner: tuple[str, int | None], start: date | None, end: date | None
) -> tuple[str, list]:
    """Rows of one organization or agency (owner: field name and id; None: every owner) in the day range."""
    clauses: list[str] = []
    params: list[Any] = []
    if owner[1] is not None:
        clauses.append(f"{db.column(model, owner[0])} = %s")
        params.append(owner[1])
    if start is not None:
        clauses.append(f"{db.column(model, 'day')} >= %s")
        params.append(connection.ops.adapt_datefield_value(start))
    if end is not None:
        clauses.append(f"{db.column(model, 'day')} <= %s")
        params.append(connection.ops.adapt_datefield_value(end))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _grouped_sql(raw: type[Model], *, numbers: bool, where: str) -> str:
    """The raw rows summed per rollup key, columns in the order of DAY_FIELDS / NUMBER_FIELDS."""
    c = {f: db.column(raw, f) for f in ("agency", "organization", "created_at", "direction", "number_id")}
    keys = [c["agency"], c["organization"], _day_of(c["created_at"])]
    if numbers:
        keys += [c["direction"], c["number_id"]]
    sums = [
        "COUNT(*)",
        f"SUM({db.column(raw, 'duration_sec')})",
        f"SUM({db.column(raw, 'minutes')})",
    ]
    if not numbers:
        sums.append(f"MAX({c['created_at']})")
    positions = ", ".join(str(n) for n in range(1, len(keys) + 1))
    return f"SELECT {', '.join(keys + sums)} FROM {db.table(raw)}{where} GROUP BY {positions}"


def rollups_rebuild_rows(
    *,
    organization_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    models: tuple[type[Model], type[Model], type[Model], type[Model]] = (
        UsageRecord,
        UsageDay,
        UsageDayNumber,
        UsageAgencyDay,
    ),
) -> int:
    """Replace the rollups of the UTC days start..end (None: unbounded) with the raw rows' sums.

    Runs in the caller's transaction, which must hold the agency lock when ingests may run
    (usage_rollups_rebuild does). The organization's agency's days in the range are summed again
    from the agency's raw rows. `models` lets a migration pass its historical models
    (UsageRecord, UsageDay, UsageDayNumber, UsageAgencyDay). Returns the UsageDay rows written.
    """
    raw, day_model, number_model, agency_model = models
    where, params = _raw_where(raw, organization_id=organization_id, start=start, end=end)
    written = 0
    with connection.cursor() as cursor:
        for model, fields, numbers in ((day_model, DAY_FIELDS, False), (number_model, NUMBER_FIELDS, True)):
            rollup_where, rollup_params = _rollup_where(
                model, owner=("organization", organization_id), start=start, end=end
            )
            cursor.execute(f"DELETE FROM {db.table(model)}{rollup_where}", rollup_params)
            columns = ", ".join(db.column(model, f) for f in fields)
            cursor.execute(
                f"INSERT INTO {db.table(model)} ({columns}) {_grouped_sql(raw, numbers=numbers, where=where)}", params
            )
            if not numbers:
                written = cursor.rowcount
        agency_id = None
        if organization_id is not None:
            cursor.execute(
                f"SELECT {db.column(Organization, 'agency')} FROM {db.table(Organization)} "
                f"WHERE {db.column(Organization, 'id')} = %s",
                [organization_id],
            )
            agency_id = cursor.fetchone()[0]
        # The agency's days from its raw rows too (not from its organizations' rollups, which may be
        # the very thing being repaired); the (agency, created_at) index serves the range.
        agency_where, agency_params = _rollup_where(agency_model, owner=("agency", agency_id), start=start, end=end)
        cursor.execute(f"DELETE FROM {db.table(agency_model)}{agency_where}", agency_params)
        raw_where, raw_params = _raw_where(raw, organization_id=None, start=start, end=end)
        if agency_id is not None:
            raw_where = f"{raw_where} AND " if raw_where else " WHERE "
            raw_where += f"{db.column(raw, 'agency')} = %s"
            raw_params.append(agency_id)
        sums = f"COUNT(*), SUM({db.column(raw, 'duration_sec')}), SUM({db.column(raw, 'minutes')})"
        cursor.execute(
            f"INSERT INTO {db.table(agency_model)} ({', '.join(db.column(agency_model, f) for f in AGENCY_FIELDS)}) "
            f"SELECT {db.column(raw, 'agency')}, {_day_of(db.column(raw, 'created_at'))}, {sums} "
            f"FROM {db.table(raw)}{raw_where} GROUP BY 1, 2",
            raw_params,
        )
    return written


def usage_rollups_rebuild(
    *, organization_id: int | None = None, start: date | None = None, end: date | None = None
) -> dict[int, int]:
    """Rebuild the rollups of each organization (or of one) for a range: one transaction per organization.

    Each transaction first locks the organization's agency row, the lock every ingest of
    that agency takes first: an ingest already running finishes before the rebuild reads,
    and one that starts meanwhile waits for the rebuild's commit. Under READ COMMITTED
    the rebuild's statements then see every committed call, and no call can land between
    its DELETE and its INSERT. Returns UsageDay rows written per organization id.
    """
    organizations = Organization.objects.order_by("pk").values_list("pk", "agency_id")
    if organization_id is not None:
        organizations = organizations.filter(pk=organization_id)
    written = {}
    for pk, agency_id in organizations:
        with transaction.atomic():
            list(Agency.objects.select_for_update().filter(pk=agency_id).values_list("pk"))
            written[pk] = rollups_rebuild_rows(organization_id=pk, start=start, end=end)
    return written


# --- Proof -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    table: str  # "day", "number" or "agency"
    owner: str  # "organization 12" or "agency 3"
    day: str  # as the database writes it (a year-0 day is no Python date)
    key: str  # direction and number, for the number table
    raw: tuple | None  # (calls, seconds, minutes[, last call]) of the raw rows; None: no calls that day
    rollup: tuple | None  # the same from the rollup row; None: no rollup row

    def __str__(self) -> str:
        where = f"{self.owner}, day {self.day}" + (f", {self.key}" if self.key else "")
        return f"{where}: raw rows {self._shown(self.raw)}, rollup {self._shown(self.rollup)}"

    @staticmethod
    def _shown(values: tuple | None) -> str:
        if values is None:
            return "none"
        shown = f"{values[0]} calls, {values[1]} s, {values[2]} min"
        return shown + (f", last call {values[3]}" if len(values) > 3 else "")


# Per rollup table: its model, its key columns and its value columns (aliases in the check's SQL).
_CHECKED: dict[str, tuple[type[Model], list[str], list[str]]] = {
    "day": (UsageDay, ["o", "d"], ["c", "s", "m", "l"]),
    "number": (UsageDayNumber, ["o", "d", "dr", "n"], ["c", "s", "m"]),
    "agency": (UsageAgencyDay, ["a", "d"], ["c", "s", "m"]),
}
_ALIAS_FIELD = {
    "a": "agency",
    "o": "organization",
    "d": "day",
    "dr": "direction",
    "n": "number_id",
    "c": "calls",
    "s": "seconds",
    "m": "minutes",
    "l": "last_call_at",
}


def _raw_sums_sql(kind: str) -> str:
    """The raw rows summed per key of the `kind` rollup, with the check's aliases."""
    c = {f: db.column(UsageRecord, f) for f in ("agency", "organization", "created_at", "direction", "number_id")}
    keys = {
        "day": [(c["agency"], "a"), (c["organization"], "o"), (_day_of(c["created_at"]), "d")],
        "number": [
            (c["agency"], "a"),
            (c["organization"], "o"),
            (_day_of(c["created_at"]), "d"),
            (c["direction"], "dr"),
            (c["number_id"], "n"),
        ],
        "agency": [(c["agency"], "a"), (_day_of(c["created_at"]), "d")],
    }[kind]
    sums = [
        ("COUNT(*)", "c"),
        (f"SUM({db.column(UsageRecord, 'duration_sec')})", "s"),
        (f"SUM({db.column(UsageRecord, 'minutes')})", "m"),
    ]
    if kind == "day":
        sums.append((f"MAX({c['created_at']})", "l"))
    positions = ", ".join(str(n) for n in range(1, len(keys) + 1))
    selected = ", ".join(f"{sql} AS {alias}" for sql, alias in keys + sums)
    return f"SELECT {selected} FROM {db.table(UsageRecord)} GROUP BY {positions}"


def _check_sql(kind: str) -> str:
    model, keys, values = _CHECKED[kind]
    columns = [*keys, *values] if kind == "agency" else ["a", *keys, *values]
    rollup = ", ".join(f"{db.column(model, _ALIAS_FIELD[n])} AS {n}" for n in columns)
    joined = " AND ".join(f"r.{k} = u.{k}" for k in keys)
    differs = " OR ".join(f"r.{n} <> u.{n}" for n in ([] if kind == "agency" else ["a"]) + values)
    shown_keys = [f"COALESCE(r.{keys[0]}, u.{keys[0]})", "CAST(COALESCE(r.d, u.d) AS TEXT)"]
    shown_keys += [f"COALESCE(r.{k}, u.{k})" for k in keys[2:]]
    shown_values = [f"r.{n}" for n in values] + [f"u.{n}" for n in values]
    return (
        f"SELECT {', '.join(shown_keys)}, r.{keys[0]} IS NULL, u.{keys[0]} IS NULL, {', '.join(shown_values)} "
        f"FROM ({_raw_sums_sql(kind)}) AS r FULL OUTER JOIN (SELECT {rollup} FROM {db.table(model)}) AS u "
        f"ON {joined} WHERE r.{keys[0]} IS NULL OR u.{keys[0]} IS NULL OR {differs} ORDER BY 1, 2"
    )


def usage_rollups_check() -> list[Mismatch]:
    """Every rollup row that differs from the raw rows' sums, and every day of calls without its rollup row.

    Three FULL OUTER JOINs in SQL (organization days, number days, agency days), returning only differences.
    """
    found = []
    with connection.cursor() as cursor:
        for kind, (_model, keys, values) in _CHECKED.items():
            cursor.execute(_check_sql(kind))
            for row in cursor.fetchall():
                owner_id, day, *rest = row
                extra, (no_raw, no_rollup, *sums) = rest[: len(keys) - 2], rest[len(keys) - 2 :]
                found.append(
                    Mismatch(
                        kind,
                        f"{'agency' if kind == 'agency' else 'organization'} {owner_id}",
                        str(day),
                        " ".join(str(part) for part in extra),
                        None if no_raw else tuple(sums[: len(values)]),
                        None if no_rollup else tuple(sums[len(values) :]),
                    )
                )
    return found

"""Plain SQL for hot paths, where compiling ORM queries costs more than running them.

A single-record usage sync spends most of its time in database round trips it
cannot avoid; these helpers keep the Python around them thin (figures in
bench/README.md). On PostgreSQL they run on a server-side-binding psycopg
cursor over Django's own connection and transaction, so small statements of a
fixed shape are prepared once per connection instead of parsed and planned on
every request (Django's default client-side binding cannot prepare). Django's
connection health check and error wrapping still apply. Table and column names
come from the models' _meta. Callers pass plain tuples in the order of
`fields`; validation is theirs.
"""

from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import cache

from django.db import connection

# Below this many rows one INSERT beats COPY's extra round trip.
COPY_MIN_ROWS = 20
# Statements with at most this many parameters are prepared (their shape
# recurs); bigger ones vary with the batch and would only churn the cache.
PREPARE_MAX_PARAMS = 60
PREPARE_THRESHOLD = 5  # psycopg's default; explicit prepare=True/False decides here
# Parameters per statement where the backend sets no limit (PostgreSQL's is 65,535).
DEFAULT_MAX_PARAMS = 50_000


# SQL fragments are built once per process: names and features do not change while it runs.

@cache
def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@cache
def column(model, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


@cache
def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


@cache
def for_update() -> str:
    """Row locks where the database has them (SQLite serializes writers on its own)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


@cache
def _per_statement(params_per_row: int) -> int:
    return max(1, (connection.features.max_query_params or DEFAULT_MAX_PARAMS) // params_per_row)


def from_db(model, field: str, value):
    """A raw column value as the ORM would give it (SQLite hands back text and naive UTC times)."""
    value = model._meta.get_field(field).to_python(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


class Cursor:
    """execute / fetch on the hot path; see the module docstring."""

    def __init__(self, cursor, native: bool):
        self._cursor = cursor
        self._native = native  # a psycopg server-binding cursor (PostgreSQL)

    def execute(self, sql: str, params: Sequence = ()):
        with connection.wrap_database_errors:
            if self._native:
                self._cursor.execute(sql, params, prepare=len(params) <= PREPARE_MAX_PARAMS)
            else:
                self._cursor.execute(sql, params)
        return self

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self):
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def copy_rows(self, target: str, rows: Sequence[tuple]) -> None:
        with connection.wrap_database_errors, self._cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


@contextmanager
def hot_cursor():
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield Cursor(cursor, native=False)
        return
    import psycopg

    # What connection.cursor() does first: drop a dead connection, (re)connect.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django leaves psycopg's statement preparation off (None disables even prepare=True).
        # Only server-binding cursors like this one ever prepare; Django's own cursors bind
        # client-side and are unaffected.
        raw.prepare_threshold = PREPARE_THRESHOLD
    with psycopg.Cursor(raw) as cursor:
        yield Cursor(cursor, native=True)


@cache
def _insert_target(model, fields: tuple[str, ...]) -> tuple[list, str]:
    model_fields = [model._meta.get_field(name) for name in fields]
    return model_fields, f"{table(model)} ({', '.join(column(model, name) for name in fields)})"


def rows_insert(*, model, fields: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert `rows` into `model`'s table: COPY on PostgreSQL for many rows, else multi-row INSERTs.

    On PostgreSQL psycopg adapts Python values (aware datetimes, UUIDs) itself;
    other backends get each value through its field's own preparation.
    """
    if not rows:
        return
    model_fields, target = _insert_target(model, tuple(fields))
    postgres = connection.vendor == "postgresql"
    if not postgres:
        rows = [tuple(f.get_db_prep_save(value, connection) for f, value in zip(model_fields, row)) for row in rows]
    with hot_cursor() as cursor:
        if postgres and len(rows) >= COPY_MIN_ROWS:
            cursor.copy_rows(target, rows)
            return
        row_sql = f"({placeholders(len(model_fields))})"
        step = _per_statement(len(model_fields))
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            cursor.execute(f"INSERT INTO {target} VALUES {', '.join([row_sql] * len(part))}",
                           [value for row in part for value in row])


def balances_swap(*, model, field: str, changes: dict[int, tuple[int, int]]) -> None:
    """Move each row's `field` from old to new: one conditional UPDATE (chunked on SQLite).

    `changes` maps primary key -> (old, new). Only rows still at `old` change;
    if any row has moved, it was not locked as the caller claimed, and
    RuntimeError aborts the caller's transaction.
    """
    items = list(changes.items())
    balance, pk = column(model, field), column(model, model._meta.pk.name)
    step = _per_statement(5)
    with hot_cursor() as cursor:
        for start in range(0, len(items), step):
            part = items[start:start + step]
            whens = " ".join(["WHEN %s THEN %s"] * len(part))
            cursor.execute(
                f"UPDATE {table(model)} SET {balance} = CASE {pk} {whens} END "
                f"WHERE {pk} IN ({placeholders(len(part))}) AND {balance} = CASE {pk} {whens} END",
                [v for key, (_old, new) in part for v in (key, new)]
                + [key for key, _ in part]
                + [v for key, (old, _new) in part for v in (key, old)],
            )
            if cursor.rowcount != len(part):
                raise RuntimeError(f"{model.__name__} balances moved while locked; nothing was written.")

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
from datetime import UTC, datetime
from functools import cache

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections

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
def for_update(of: str | None = None) -> str:
    """Row locks where the database has them (SQLite serializes writers on its own).

    `of` names the table alias whose rows are locked when the query joins others.
    """
    if not connection.features.has_select_for_update:
        return ""
    if of is not None and connection.features.has_select_for_update_of:
        return f" FOR UPDATE OF {of}"
    return " FOR UPDATE"


@cache
def _per_statement(params_per_row: int) -> int:
    return max(1, (connection.features.max_query_params or DEFAULT_MAX_PARAMS) // params_per_row)


def from_db(model, field: str, value):
    """A raw column value as the ORM would give it (SQLite hands back text and naive UTC times)."""
    value = model._meta.get_field(field).to_python(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


class Cursor:
    """execute / fetch on the hot path; see the module docstring."""

    def __init__(self, wrapper, cursor, native: bool):
        self._db = wrapper  # Django's DatabaseWrapper: its error wrapping applies
        self._cursor = cursor
        self._native = native  # a psycopg server-binding cursor (PostgreSQL)
        self.raw = cursor.connection if native else None
        self.busy = False

    def execute(self, sql: str, params: Sequence = ()):
        with self._db.wrap_database_errors:
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
        with self._db.wrap_database_errors, self._cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


@contextmanager
def hot_cursor():
    """A cursor on Django's connection for the current thread; on PostgreSQL one psycopg cursor is
    kept per connection and reused (results are read before the next statement, as here)."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "postgresql":
        with wrapper.cursor() as cursor:
            yield Cursor(wrapper, cursor, native=False)
        return
    # What connection.cursor() does first: drop a dead connection, (re)connect.
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    kept = getattr(wrapper, "_portal_hot_cursor", None)
    if kept is not None and kept.raw is wrapper.connection and not kept.busy:
        cursor = kept
    else:
        cursor = _native_cursor(wrapper)
        if kept is None or not kept.busy:
            wrapper._portal_hot_cursor = cursor  # kept for next time; a nested use's own is not
    cursor.busy = True
    try:
        yield cursor
    finally:
        cursor.busy = False


def _native_cursor(wrapper) -> Cursor:
    import psycopg

    raw = wrapper.connection
    if raw.prepare_threshold is None:
        # Django leaves psycopg's statement preparation off (None disables even prepare=True).
        # Only server-binding cursors like this one ever prepare; Django's own cursors bind
        # client-side and are unaffected.
        raw.prepare_threshold = PREPARE_THRESHOLD
    return Cursor(wrapper, psycopg.Cursor(raw), native=True)


def first_read(sql: str, params: Sequence = ()) -> list[tuple]:
    """Rows of a read-only query that opens a request's database work; it doubles as the health check.

    With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query a
    reused connection runs in each request, and reconnects if that fails. This
    runs the caller's query in its place: if the connection turns out to be
    dead, it reconnects and runs the query once more. Only for statements that
    change nothing, outside a transaction, so running one twice is harmless.
    """
    checking = (connection.vendor == "postgresql" and connection.connection is not None
                and connection.health_check_enabled and not connection.health_check_done
                and not connection.in_atomic_block)
    if checking:
        connection.health_check_done = True  # this query is the check: no SELECT 1 first
    try:
        with hot_cursor() as cursor:
            return cursor.execute(sql, params).fetchall()
    except DatabaseError:
        if not checking or connection.is_usable():
            raise  # the query failed, not the connection
    connection.close()
    with hot_cursor() as cursor:  # connects afresh
        return cursor.execute(sql, params).fetchall()


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

"""Plain SQL for hot paths, where compiling ORM queries costs more than running them.

A single-record usage sync spends most of its time in database round trips it
cannot avoid; these helpers keep the Python around them thin (figures in
bench/README.md). Otherwise they behave like the rest of Django: every statement
goes through Django's cursor wrapper on Django's own connection and transaction,
so `connection.execute_wrapper`, `CaptureQueriesContext`, DEBUG's query log,
the connection health check and error wrapping all see it.

On PostgreSQL the psycopg cursor underneath binds parameters on the server, so
small statements of a fixed shape can be prepared once per connection instead
of parsed and planned on every request (Django's own cursors bind client-side
and never prepare). Preparation follows the connection's `prepare_threshold`
(DATABASES OPTIONS, set from DATABASE_PREPARE in settings): None, as behind
PgBouncer in transaction mode, prepares nothing. Table and column names come
from the models' _meta. Callers pass plain tuples in the order of `fields`;
validation is theirs.
"""

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Field, Model

Row = tuple[Any, ...]

# Below this many rows one INSERT beats COPY's extra round trip.
COPY_MIN_ROWS = 20
# Statements with at most this many parameters are prepared (their shape
# recurs); bigger ones vary with the batch and would only churn the cache.
PREPARE_MAX_PARAMS = 60
# Parameters per statement where the backend sets no limit (PostgreSQL's is 65,535).
DEFAULT_MAX_PARAMS = 50_000


# SQL fragments are built once per process: names and features do not change while it runs.


@cache
def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _field(model: type[Model], name: str) -> "Field[Any, Any]":
    return cast("Field[Any, Any]", model._meta.get_field(name))  # a concrete column, never a reverse relation


@cache
def column(model: type[Model], field: str) -> str:
    name = _field(model, field).column
    assert name is not None  # a concrete field has a column
    return connection.ops.quote_name(name)


@cache
def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


@cache
def for_update(of: str | None = None, *, no_key: bool = False) -> str:
    """Row locks where the database has them (SQLite serializes writers on its own).

    `of` names the table alias whose rows are locked when the query joins others. `no_key`
    takes PostgreSQL's FOR NO KEY UPDATE: as exclusive as FOR UPDATE against other writers of
    the row, but it lets other transactions insert rows that refer to it (a foreign key check
    takes FOR KEY SHARE), so a balance lock never makes an unrelated insert wait.
    """
    if not connection.features.has_select_for_update:
        return ""
    strength = "NO KEY UPDATE" if no_key and connection.features.has_select_for_no_key_update else "UPDATE"
    if of is not None and connection.features.has_select_for_update_of:
        return f" FOR {strength} OF {of}"
    return f" FOR {strength}"


@cache
def _per_statement(params_per_row: int) -> int:
    return max(1, (connection.features.max_query_params or DEFAULT_MAX_PARAMS) // params_per_row)


def from_db(model: type[Model], field: str, value: Any) -> Any:
    """A raw column value as the ORM would give it (SQLite hands back text and naive UTC times)."""
    value = _field(model, field).to_python(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


@cache
def _psycopg_cursor_class() -> type[Any]:
    import psycopg  # only on PostgreSQL: SQLite deployments need not install it

    class ServerBindingCursor(psycopg.Cursor):
        """psycopg's server-binding cursor that prepares small statements and never big ones.

        Whether anything is prepared at all is the connection's prepare_threshold:
        with None psycopg ignores prepare=True.
        """

        def execute(
            self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
        ) -> Any:
            if prepare is None:
                prepare = len(params or ()) <= PREPARE_MAX_PARAMS
            return super().execute(query, params, prepare=prepare, binary=binary)

    return ServerBindingCursor


class _DebugCursor(CursorDebugWrapper):
    """DEBUG's query log and CaptureQueriesContext show hot statements with their parameters.

    psycopg keeps no query text for a statement it ran prepared, so Django's
    last_executed_query would log None: compose the text as Django does for its
    own server-side-binding cursors.
    """

    def execute(self, sql: Any, params: Any = None) -> Any:
        try:
            logged = self.db.ops.compose_sql(sql, params)
        except Exception:
            logged = sql
        with self.debug_sql(logged):
            return CursorWrapper.execute(self, sql, params)


def _through_execute_wrappers(
    db: BaseDatabaseWrapper, cursor: CursorWrapper, sql: str, params: Any, executor: Callable[..., Any]
) -> Any:
    """Run `executor` as Django runs a statement: inside each of connection.execute_wrappers, outermost first."""
    context = {"connection": db, "cursor": cursor}
    for wrapper in reversed(db.execute_wrappers):
        executor = functools.partial(wrapper, executor)
    return executor(sql, params, False, context)


class Cursor:
    """execute / fetch / COPY on the hot path, over one of Django's cursor wrappers (see the module docstring)."""

    def __init__(self, cursor: CursorWrapper):
        self._cursor = cursor  # Django's CursorWrapper, or CursorDebugWrapper while queries are logged

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "Cursor":
        self._cursor.execute(sql, params)
        return self

    # Reads go to the driver's cursor under Django's error wrapping, as CursorWrapper's own
    # attribute lookup would send them, without building a wrapped function on every call.
    def fetchone(self) -> Row | None:
        with self._cursor.db.wrap_database_errors:
            row: Row | None = self._cursor.cursor.fetchone()
            return row

    def fetchall(self) -> list[Row]:
        with self._cursor.db.wrap_database_errors:
            rows: list[Row] = self._cursor.cursor.fetchall()
            return rows

    @property
    def rowcount(self) -> int:
        rowcount: int = self._cursor.cursor.rowcount
        return rowcount

    def copy_rows(self, target: str, rows: Sequence[Row]) -> None:
        """COPY `rows` into `target` ("table (col, ...)"): one statement to the execute wrappers and the query log."""
        db, raw = self._cursor.db, self._cursor.cursor

        def copy(sql: str, _params: Any, _many: bool, _context: dict[str, Any]) -> None:
            db.validate_no_broken_transaction()
            with db.wrap_database_errors, raw.copy(sql) as stream:
                for row in rows:
                    stream.write_row(row)

        statement = f"COPY {target} FROM STDIN"
        logged = self._cursor.debug_sql(statement) if isinstance(self._cursor, CursorDebugWrapper) else nullcontext()
        with logged:
            _through_execute_wrappers(db, self._cursor, statement, None, copy)


# One psycopg cursor per thread (Django's connections are per thread), reused while its connection lives:
# a new cursor looks up its type adapters afresh, which costs more than Django's wrapper around it.
_kept = threading.local()


@contextmanager
def hot_cursor() -> Iterator[Cursor]:
    """A cursor on Django's connection for the current thread.

    On PostgreSQL it is a server-binding psycopg cursor in the wrapper that
    connection.cursor() would put around its own; a cursor used while another is
    open (nested) is a fresh one, so the outer one's results stay. Elsewhere it is
    connection.cursor() itself.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield Cursor(cursor)
        return
    # What connection.cursor() does before it makes a cursor: drop a dead connection, (re)connect.
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    nested = getattr(_kept, "busy", False)
    kept = getattr(_kept, "cursor", None)
    if nested or kept is None or kept.connection is not db.connection or kept.closed:
        with db.wrap_database_errors:
            raw = _psycopg_cursor_class()(db.connection)
        if not nested:
            _kept.cursor = raw
    else:
        raw = kept
    _kept.busy = True
    try:
        yield Cursor(_DebugCursor(raw, db) if db.queries_logged else db.make_cursor(raw))
    finally:
        if nested:
            raw.close()
        else:
            _kept.busy = False


def first_read(sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """Rows of a read-only query that opens a request's database work; it doubles as the health check.

    With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query a
    reused connection runs in each request, and reconnects if that fails. This
    runs the caller's query in its place: if the connection turns out to be
    dead, it reconnects and runs the query once more. Only for statements that
    change nothing, outside a transaction, so running one twice is harmless.
    """
    # health_check_enabled / health_check_done: Django's own public flags (django-stubs lacks them);
    # close_if_unusable_or_obsolete resets the second when a request starts.
    checking = (
        connection.vendor == "postgresql"
        and connection.connection is not None
        and connection.health_check_enabled  # type: ignore[attr-defined]
        and not connection.health_check_done  # type: ignore[attr-defined]
        and not connection.in_atomic_block
    )
    if checking:
        connection.health_check_done = True  # type: ignore[attr-defined]  # this query is the check: no SELECT 1
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
def _insert_target(model: type[Model], fields: tuple[str, ...]) -> tuple[list[Any], str]:
    model_fields = [model._meta.get_field(name) for name in fields]
    return model_fields, f"{table(model)} ({', '.join(column(model, name) for name in fields)})"


def rows_insert(*, model: type[Model], fields: Sequence[str], rows: Sequence[Row]) -> None:
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
            part = rows[start : start + step]
            cursor.execute(
                f"INSERT INTO {target} VALUES {', '.join([row_sql] * len(part))}",
                [value for row in part for value in row],
            )


def balances_swap(*, model: type[Model], field: str, changes: dict[int, tuple[int, int]]) -> None:
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
            part = items[start : start + step]
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

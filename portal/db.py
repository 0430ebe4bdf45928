"""Plain SQL for hot paths, where compiling ORM queries costs more than running them.

A single-record usage sync spends most of its time in database round trips
it cannot avoid; these helpers keep the Python around them thin (see
bench/README.md). Table and column names come from the models' _meta, so
they follow the models. Callers pass plain tuples in the order of `fields`;
validation is theirs. Everything runs in the caller's transaction.
"""

from collections.abc import Sequence
from datetime import datetime
from datetime import timezone as dt_timezone

from django.db import connection

# Below this many rows one INSERT beats COPY's extra round trip.
COPY_MIN_ROWS = 20
# Parameters per statement where the backend sets no limit (PostgreSQL's is 65,535).
DEFAULT_MAX_PARAMS = 50_000


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def for_update() -> str:
    """Row locks where the database has them (SQLite serializes writers on its own)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def from_db(model, field: str, value):
    """A raw column value as the ORM would give it (SQLite hands back text and naive UTC times)."""
    value = model._meta.get_field(field).to_python(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


def _per_statement(params_per_row: int) -> int:
    return max(1, (connection.features.max_query_params or DEFAULT_MAX_PARAMS) // params_per_row)


def rows_insert(*, model, fields: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert `rows` into `model`'s table: COPY on PostgreSQL for many rows, else multi-row INSERTs.

    On PostgreSQL psycopg adapts Python values (aware datetimes, UUIDs) itself;
    other backends get each value through its field's own preparation.
    """
    if not rows:
        return
    model_fields = [model._meta.get_field(name) for name in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in model_fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if len(rows) >= COPY_MIN_ROWS:
                with cursor.cursor.copy(f"COPY {table(model)} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return
        else:
            rows = [tuple(f.get_db_prep_save(value, connection) for f, value in zip(model_fields, row)) for row in rows]
        row_sql = f"({placeholders(len(model_fields))})"
        step = _per_statement(len(model_fields))
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            cursor.execute(f"INSERT INTO {table(model)} ({columns}) VALUES {', '.join([row_sql] * len(part))}",
                           [value for row in part for value in row])


def balances_swap(*, model, field: str, changes: dict[int, tuple[int, int]]) -> None:
    """Move each row's `field` from old to new: one conditional UPDATE (chunked on SQLite).

    `changes` maps primary key -> (old, new). Only rows still at `old` change;
    if any row has moved, it was not locked as the caller claimed, and
    RuntimeError aborts the caller's transaction.
    """
    items = list(changes.items())
    balance, pk = column(model, field), connection.ops.quote_name(model._meta.pk.column)
    step = _per_statement(5)
    with connection.cursor() as cursor:
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

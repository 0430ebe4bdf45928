"""For PostgreSQL race tests: wait until other sessions are queued on a row lock, instead of sleeping."""

import time

import psycopg
from django.db import connection


def sessions_waiting_on_a_lock() -> int:
    """How many sessions of this test database wait for a lock now (seen from a connection of its own)."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as observer:
        row = observer.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        assert row is not None
        return int(row[0])


def until_waiting_on_a_lock(count: int = 1, *, seconds: float = 20) -> bool:
    """Poll until `count` sessions wait for a lock; False if they do not within `seconds`."""
    deadline = time.monotonic() + seconds
    while sessions_waiting_on_a_lock() < count:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True

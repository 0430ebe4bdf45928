"""A database connection that died between requests (server restart, failover, idle timeout)
costs the calling platform nothing: the next API request runs on a new connection.

The key lookup that opens every API request stands in for Django's `SELECT 1`
health check (core.db.first_read), so these tests kill the connection for real.
"""

import psycopg
import pytest
from django.db import connection

from tests.usage.conftest import record
from usage import keys
from usage.models import UsageRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate_backend_of_this_connection() -> int:
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


def _next_request():
    # What Django does when a request starts (the test client leaves it out).
    connection.close_if_unusable_or_obsolete()


def test_a_sync_after_the_connection_died_is_applied_on_a_new_connection(api, org, agency_key):
    assert api.post("usage", record(org, id="before"), key=agency_key).status_code == 201
    dead_pid = _terminate_backend_of_this_connection()

    _next_request()
    response = api.post("usage", record(org, id="after"), key=agency_key)

    assert response.status_code == 201, response.content
    assert connection.connection.info.backend_pid != dead_pid
    assert UsageRecord.objects.filter(record_id__in=["before", "after"]).count() == 2
    org.refresh_from_db()
    assert org.credits_balance == 100 - 2 * 2


def test_a_read_after_the_connection_died_answers_normally(api, org, client_key):
    assert api.get("account", key=client_key).status_code == 200
    _terminate_backend_of_this_connection()

    _next_request()
    response = api.get("account", key=client_key)

    assert response.status_code == 200, response.content
    assert response.json()["minutes_balance"] == 100


def test_a_revoked_key_is_still_refused_after_a_reconnect(api, org):
    new = keys.api_key_create(name="client app", organization=org)
    keys.api_key_revoke(api_key=new.api_key)
    _terminate_backend_of_this_connection()

    _next_request()
    response = api.get("account", key=new.secret)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "revoked_api_key"

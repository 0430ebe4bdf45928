"""Balance locks on PostgreSQL let inserts that refer to the locked row go on.

bench/cluster.py found this: a usage sync holds its agency's row and then locks a
client; a purchase credit holds that client's row and then inserts its invoice,
whose foreign key check needs a KEY SHARE lock on the agency row. With FOR UPDATE
the two waited for each other until PostgreSQL killed one ("deadlock detected",
an HTTP 500). FOR NO KEY UPDATE excludes other balance writers just the same, but
not a foreign key check.
"""

import threading

import pytest
from django.db import connection, transaction

from agencies.models import Organization
from billing import ledger
from billing.models import LedgerEntry
from tests.conftest import credits_add, minutes_add

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WAIT = 10  # seconds; only reached when a thread is stuck, which fails the test


def test_a_sync_holding_the_agency_and_a_credit_holding_its_client_do_not_deadlock(make_agency, make_client_user):
    agency = make_agency(active=True)
    client = make_client_user(agency).organization
    minutes_add(agency, 100)
    credits_add(client, 100)
    agency_held, client_held = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def sync():  # usage.ingest's order: the agency, then its clients
        try:
            with transaction.atomic():
                ledger.accounts_lock(agency_id=agency.pk, organization_ids=[])
                agency_held.set()
                assert client_held.wait(WAIT)
                locked = ledger.accounts_lock(agency_id=agency.pk, organization_ids=[client.pk])
                assert client.pk in locked.organization_balances
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def credit():  # billing.checkout.purchase_credit's order: the client, then a row referring to the agency
        try:
            assert agency_held.wait(WAIT)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")  # a wait on the agency row fails here, not hangs
                ledger.entry_post(organization=client, amount=5, kind="allocation", reference="credit-1")
                client_held.set()
                Organization.objects.create(agency=agency, name="Signed up meanwhile")
        except BaseException as error:
            errors.append(error)
            client_held.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=sync), threading.Thread(target=credit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 3)

    assert errors == []
    assert LedgerEntry.objects.filter(organization=client, reference="credit-1").count() == 1
    assert Organization.objects.filter(agency=agency, name="Signed up meanwhile").exists()


def test_two_writers_of_one_balance_still_queue(make_agency):
    """NO KEY UPDATE is still exclusive between balance writers: the second waits for the first."""
    agency = make_agency(active=True)
    minutes_add(agency, 10)
    first_holds, outcome = threading.Event(), {}

    def second():
        try:
            assert first_holds.wait(WAIT)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '200ms'")
                ledger.accounts_lock(agency_id=agency.pk, organization_ids=[])
            outcome["second"] = "locked"
        except Exception as error:
            outcome["second"] = type(error).__name__
        finally:
            connection.close()

    thread = threading.Thread(target=second)
    with transaction.atomic():
        ledger.accounts_lock(agency_id=agency.pk, organization_ids=[])
        thread.start()
        first_holds.set()
        thread.join(WAIT)
    assert outcome["second"] == "OperationalError"  # lock_timeout: it had to wait for the first writer

"""Usage ledger entries without reference indexes: still once per call, and the agency's entry names its client."""

import importlib

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from billing import ledger
from billing.models import LedgerEntry
from tests.conftest import minutes_add
from tests.usage.conftest import record
from usage.ingest import usage_ingest
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
DAY1 = "2026-05-11T09:00:00Z"


def test_the_agency_entry_names_the_client_whose_call_it_charged(agency, org):
    minutes_add(agency, 100)
    usage_ingest(agency_id=agency.pk, records=[record(org, id="c-1", duration_sec=61)])

    client_entry = LedgerEntry.objects.get(organization=org, reference="usage:c-1")
    agency_entry = LedgerEntry.objects.get(agency=agency, reference="usage:c-1")
    assert (client_entry.amount, agency_entry.amount) == (-2, -2)
    assert agency_entry.usage_client_id == org.pk
    assert client_entry.usage_client_id is None


def test_a_call_sent_again_is_charged_once(agency, org):
    minutes_add(agency, 100)
    call = record(org, id="c-2", duration_sec=120)
    first = usage_ingest(agency_id=agency.pk, records=[call])
    again = usage_ingest(agency_id=agency.pk, records=[call])

    assert [o.status for o in first + again] == ["applied", "duplicate"]
    assert LedgerEntry.objects.filter(reference="usage:c-2").count() == 2  # one client, one agency entry


def test_a_second_usage_record_with_the_same_id_is_refused_by_the_database(agency, org):
    """The uniqueness that makes a usage entry once-only is the usage record's, and it holds at the database."""
    minutes_add(agency, 100)
    usage_ingest(agency_id=agency.pk, records=[record(org, id="c-3")])
    stored = UsageRecord.objects.get(record_id="c-3")
    stored.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        stored.save(force_insert=True)


def test_posting_a_usage_reference_again_through_the_ledger_changes_nothing(org):
    first = ledger.entry_post(organization=org, amount=-5, kind="usage", reference="usage:manual")
    again = ledger.entry_post(organization=org, amount=-5, kind="usage", reference="usage:manual")

    assert (first.created, again.created) == (True, False)
    assert again.entry.pk == first.entry.pk
    org.refresh_from_db()
    assert org.credits_balance == 100 - 5


def test_other_kinds_keep_their_unique_reference_at_the_database(org):
    entry = ledger.entry_post(organization=org, amount=5, kind="allocation", reference="gift-1").entry
    entry.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save(force_insert=True)


@pytest.mark.now(DAY1)
def test_the_same_call_id_at_two_agencies_is_paired_with_each_agencys_own_client(
    api, agency, org, agency_key, other_agency
):
    minutes_add(agency, 100)
    usage_ingest(agency_id=agency.pk, records=[record(org, id="shared-id", created_at=DAY1)])
    usage_ingest(agency_id=other_agency.pk, records=[record(other_agency.org, id="shared-id", created_at=DAY1)])

    mine = api.get("billing/transactions", agency_key, kind="usage").json()["data"]
    theirs = api.get("billing/transactions", other_agency.key, kind="usage").json()["data"]
    assert [row["organization_id"] for row in mine] == [org.pk]
    assert [row["organization_id"] for row in theirs] == [other_agency.org.pk]


def test_the_migration_names_each_agency_entrys_client_from_its_own_clients_entry(agency, org, other_agency):
    """billing 0014 on a populated database: agency usage entries written before it get their client."""
    minutes_add(agency, 100)
    usage_ingest(agency_id=agency.pk, records=[record(org, id="old-1")])
    usage_ingest(agency_id=other_agency.pk, records=[record(other_agency.org, id="old-1")])
    LedgerEntry.objects.filter(agency__isnull=False, kind="usage").update(usage_client=None)  # as before 0014

    migration = importlib.import_module("billing.migrations.0014_usage_entries_unindexed")
    migration.usage_clients_fill(apps, None)

    named = dict(
        LedgerEntry.objects.filter(kind="usage", agency__isnull=False).values_list("agency_id", "usage_client")
    )
    assert named == {agency.pk: org.pk, other_agency.pk: other_agency.org.pk}

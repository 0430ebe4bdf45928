"""The audit log is append-only in the database, whatever the code path."""

import pytest
from django.db import DatabaseError, connection, transaction

from agencies import audit
from agencies.models import AuditEntry


def _entry(make_agency):
    agency = make_agency()
    admin = agency.admins.get()
    return audit.audit_record(
        actor=admin,
        action="package.update",
        agency_id=agency.pk,
        object_type="creditpackage",
        object_id=7,
        object_repr="Starter",
        changes=audit.changes_between(
            {"price": 1000, "secret": "a"}, {"price": 1200, "secret": "b"}, secret=["secret"]
        ),
    )


@pytest.mark.django_db
def test_an_entry_records_who_what_and_before_after_but_no_secret(make_agency):
    with audit.request_context(ip="203.0.113.9"):
        entry = _entry(make_agency)
    entry.refresh_from_db()
    assert (entry.actor_kind, entry.action, entry.object_id, entry.ip) == (
        "agency",
        "package.update",
        "7",
        "203.0.113.9",
    )
    assert entry.changes == {"price": [1000, 1200], "secret": ["changed", "changed"]}
    assert "b" not in str(entry.changes)


@pytest.mark.django_db
def test_the_database_refuses_to_update_an_entry(make_agency):
    entry = _entry(make_agency)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE agencies_auditentry SET changes = '{}'")
    assert AuditEntry.objects.get(pk=entry.pk).action == "package.update"


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_refuses_to_delete_an_entry(make_agency):
    entry = _entry(make_agency)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()

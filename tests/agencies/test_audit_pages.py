"""The audit log pages: the agency's in the console, a client owner's on the portal; each sees only its own."""

import csv
import io

import pytest
from django.test import Client

from agencies import audit
from agencies.models import AuditEntry, User
from tests.conftest import PASSWORD, host


def _entry(agency, *, actor=None, action="branding.change", organization=None, repr_="Thing", changes=None):
    return audit.audit_record(
        actor=actor,
        action=action,
        agency_id=agency.pk,
        organization_id=organization.pk if organization else None,
        object_type="thing",
        object_id=1,
        object_repr=repr_,
        changes=changes or {},
    )


@pytest.fixture
def two_agencies(make_agency, make_client_user):
    mine, theirs = make_agency(active=True), make_agency(active=True)
    client_user = make_client_user(mine, company_name="Acme")
    other_client = make_client_user(mine, company_name="Bolt")
    with audit.request_context(ip="203.0.113.7"):
        _entry(mine, actor=mine.admin, repr_="Our branding", changes={"company_name": ["Old", "New"]})
        _entry(mine, actor=mine.admin, action="client.allocate", organization=client_user.organization, repr_="Grant")
        _entry(mine, action="client.suspend", organization=other_client.organization, repr_="Bolt suspended")
        _entry(theirs, actor=theirs.admin, repr_="Their secret branding")
    return mine, theirs, client_user


def _rows(response) -> list[str]:
    return response.text.split('data-testid="audit-entry"')[1:]


def test_the_agency_sees_its_own_entries_with_who_what_changes_and_ip(console, two_agencies):
    mine, _theirs, _client = two_agencies
    console.force_login(mine.admin)
    page = console.get("/console/audit/")
    assert page.status_code == 200
    assert len(_rows(page)) == AuditEntry.objects.filter(agency_id=mine.pk).count()
    text = page.text
    assert "Our branding" in text and "Grant" in text and "Bolt suspended" in text
    assert "company_name: Old → New" in text and "203.0.113.7" in text and mine.admin.email in text
    assert "Their secret branding" not in text  # another agency's entries never appear
    assert 'href="/console/audit/"' in console.get("/console/").text  # in the navigation


def test_filters_by_person_kind_and_date(console, two_agencies, time_machine):
    mine, _theirs, _client = two_agencies
    time_machine.move_to("2026-01-10T12:00:00Z", tick=False)
    _entry(mine, actor=mine.admin, action="package.update", repr_="Old package change")
    time_machine.move_to("2026-12-02T12:00:00Z", tick=False)
    console.force_login(mine.admin)

    by_person = console.get("/console/audit/", {"person": mine.admin.email})
    assert len(_rows(by_person)) == 3 and "Bolt suspended" not in by_person.text
    by_kind = console.get("/console/audit/", {"kind": "client"})
    assert len(_rows(by_kind)) == 2 and "Our branding" not in by_kind.text
    by_date = console.get("/console/audit/", {"since": "2026-01-01", "until": "2026-01-31"})
    assert [r for r in _rows(by_date) if "Old package change" in r] and len(_rows(by_date)) == 1
    bad = console.get("/console/audit/", {"since": "2026-02-01", "until": "2026-01-01"})
    assert bad.status_code == 400 and "The end date is before the start date." in bad.text


def test_the_log_is_paginated_and_keeps_the_filters(console, make_agency):
    agency = make_agency()
    for n in range(55):
        _entry(agency, actor=agency.admin, action="package.update", repr_=f"Package {n}")
    console.force_login(agency.admin)
    first = console.get("/console/audit/", {"kind": "package"})
    assert len(_rows(first)) == 50 and "Page 1 of 2" in first.text
    assert "kind=package&amp;page=2" in first.text
    second = console.get("/console/audit/", {"kind": "package", "page": 2})
    assert len(_rows(second)) == 5 and "Package 0" in second.text


def test_csv_export_has_the_filtered_entries_of_this_agency_only(console, two_agencies):
    mine, _theirs, _client = two_agencies
    _entry(mine, actor=mine.admin, action="client.notes", repr_="=HYPERLINK(1)")
    console.force_login(mine.admin)
    page = console.get("/console/audit/", {"kind": "client"})
    assert 'href="/console/audit.csv?kind=client"' in page.text
    response = console.get("/console/audit.csv", {"kind": "client"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["time", "person", "kind of account", "action"]
    assert sorted(row[3] for row in rows[1:]) == ["client.allocate", "client.notes", "client.suspend"]
    assert "'=HYPERLINK(1)" in [row[6] for row in rows[1:]]  # never a formula
    everything = b"".join(console.get("/console/audit.csv").streaming_content).decode()
    assert "Their secret branding" not in everything and "company_name: Old → New" in everything
    assert console.get("/console/audit.csv", {"since": "not a date"}).status_code == 400


def test_a_viewer_or_billing_member_of_the_agency_may_not_see_the_log(console, make_agency):
    agency = make_agency()
    viewer = User.objects.create_user("viewer@example.com", PASSWORD, managed_agency=agency, role="viewer")
    console.force_login(viewer)
    assert console.get("/console/audit/").status_code == 403
    assert console.get("/console/audit.csv").status_code == 403
    assert 'href="/console/audit/"' not in console.get("/console/").text


def test_a_client_owner_sees_only_its_organizations_entries(two_agencies):
    mine, _theirs, client_user = two_agencies
    portal = Client(HTTP_HOST=host(mine))
    portal.force_login(client_user)
    page = portal.get("/settings/audit-log/")
    assert page.status_code == 200
    assert len(_rows(page)) == 1 and "Grant" in page.text
    # The agency's own entries and another client's are not this organization's.
    assert "Our branding" not in page.text and "Bolt suspended" not in page.text
    assert "Their secret branding" not in page.text
    assert 'href="/settings/audit-log/"' in portal.get("/").text


def test_a_client_member_may_not_see_the_organizations_log(two_agencies):
    mine, _theirs, client_user = two_agencies
    member = User.objects.create_user(
        "member@example.com", PASSWORD, agency=mine, organization=client_user.organization, role="member"
    )
    portal = Client(HTTP_HOST=host(mine))
    portal.force_login(member)
    assert portal.get("/settings/audit-log/").status_code == 403
    assert 'href="/settings/audit-log/"' not in portal.get("/").text


def test_the_portal_page_is_not_served_on_the_console_nor_the_console_page_on_a_portal(console, two_agencies):
    mine, _theirs, client_user = two_agencies
    console.force_login(mine.admin)
    assert console.get("/settings/audit-log/").status_code == 404
    portal = Client(HTTP_HOST=host(mine))
    portal.force_login(client_user)
    assert portal.get("/console/audit/").status_code == 404

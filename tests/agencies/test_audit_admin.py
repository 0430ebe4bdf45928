"""The operator's changes in Django admin are audit entries, for every registered model; the log itself is read only."""

import pytest
from django.contrib import admin

from agencies.admin_audit import AuditedModelAdminMixin
from agencies.models import AuditEntry, CreditPackage, User


@pytest.fixture
def operator(db, console):
    user = User.objects.create_superuser("operator@example.com", "pw-operator-1")
    console.force_login(user)
    return user


def _package_form(package: CreditPackage, **changes) -> dict:
    data = {
        "agency": package.agency_id,
        "credits": package.credits,
        "price_cents": package.price_cents,
        "currency": package.currency,
        "created_at_0": package.created_at.strftime("%Y-%m-%d"),
        "created_at_1": package.created_at.strftime("%H:%M:%S"),
        "archived_at_0": "",
        "archived_at_1": "",
        "position": package.position,
        "stripe_price_id": package.stripe_price_id,
    }
    return {**data, **changes}


def test_every_registered_model_admin_is_audited():
    assert admin.site._registry
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, AuditedModelAdminMixin), model


def test_an_operators_change_is_recorded_with_before_and_after(console, operator, make_agency):
    agency = make_agency(active=True)
    package = agency.packages.get()
    url = f"/admin/agencies/creditpackage/{package.pk}/change/"
    response = console.post(url, _package_form(package, price_cents=4500))
    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get(action="admin.change")
    assert (entry.actor_id, entry.actor_kind, entry.agency_id, entry.organization_id, entry.ip) == (
        operator.pk,
        "operator",
        agency.pk,
        None,
        "127.0.0.1",
    )
    assert (entry.object_type, entry.object_id) == ("creditpackage", str(package.pk))
    assert entry.changes["price_cents"] == [4000, 4500]
    assert "credits" not in entry.changes  # only what changed


def test_an_operators_add_and_delete_are_recorded(console, operator, make_agency):
    agency = make_agency(active=True)
    package = agency.packages.get()
    form = _package_form(package, credits=700, price_cents=20000)
    assert console.post("/admin/agencies/creditpackage/add/", form).status_code == 302
    added = AuditEntry.objects.get(action="admin.add")
    new = CreditPackage.objects.get(credits=700)
    assert added.object_id == str(new.pk) and added.changes["credits"] == [None, 700]

    url = f"/admin/agencies/creditpackage/{new.pk}/delete/"
    assert console.post(url, {"post": "yes"}).status_code == 302
    deleted = AuditEntry.objects.get(action="admin.delete")
    assert (deleted.object_id, deleted.actor_kind, deleted.agency_id) == (str(new.pk), "operator", agency.pk)
    assert deleted.changes["credits"] == [700, None]


def test_an_operators_password_change_records_only_that_it_changed(console, operator, make_agency):
    agency = make_agency()
    url = f"/admin/agencies/user/{agency.admin.pk}/password/"
    response = console.post(url, {"password1": "N3w-secret-pass!", "password2": "N3w-secret-pass!"})
    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get(action="admin.change")
    assert entry.object_id == str(agency.admin.pk) and entry.agency_id == agency.pk
    assert entry.changes and all(pair == ["changed", "changed"] for pair in entry.changes.values())
    assert "N3w-secret" not in str(entry.changes)


def test_the_audit_log_in_admin_is_read_only(console, operator, make_agency):
    agency = make_agency()
    entry = AuditEntry.objects.create(agency_id=agency.pk, actor_kind="system", action="branding.change")
    assert console.get("/admin/agencies/auditentry/").status_code == 200
    assert "branding.change" in console.get("/admin/agencies/auditentry/").text
    assert console.get("/admin/agencies/auditentry/add/").status_code == 403
    page = console.get(f"/admin/agencies/auditentry/{entry.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.text  # shown, not editable
    assert console.post(f"/admin/agencies/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()

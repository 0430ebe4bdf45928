"""Each change an agency admin makes in the console is an audit entry: who, for whom, what, before and after."""

import pytest

from agencies import services
from agencies.models import AuditEntry, CreditPackage

IP = "127.0.0.1"  # Django's test client sends REMOTE_ADDR 127.0.0.1


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("pk")


@pytest.fixture
def admin_console(console, make_agency):
    agency = make_agency(active=True, company_name="Sunrise Calls")
    console.force_login(agency.admin)
    return console, agency


def _who(entry: AuditEntry, agency) -> tuple:
    return entry.actor_id, entry.actor_email, entry.actor_kind, entry.agency_id, entry.ip


def test_branding_change_records_each_changed_field(admin_console):
    console, agency = admin_console
    data = {"company_name": "Sunset Calls", "logo_url": "", "primary_color": "#123456", "accent_color": "#ABCDEF"}
    response = console.post("/console/branding/", {**data, "slug": agency.slug})
    assert response.status_code == 302
    entry = last("branding.change")
    assert _who(entry, agency) == (agency.admin.pk, agency.admin.email, "agency", agency.pk, IP)
    assert entry.organization_id is None
    assert entry.changes == {"company_name": ["Sunrise Calls", "Sunset Calls"]}
    assert (entry.object_type, entry.object_id) == ("agency", str(agency.pk))


def test_custom_domain_change_is_recorded(admin_console):
    console, agency = admin_console
    assert console.post("/console/domain/", {"custom_domain": "calls.example.com"}).status_code == 302
    entry = last("branding.domain")
    assert entry.changes == {"custom_domain": [None, "calls.example.com"]}
    assert _who(entry, agency)[0] == agency.admin.pk


def test_package_create_update_hide_and_delete_are_recorded(admin_console):
    console, agency = admin_console
    assert console.post("/console/packages/", {"credits": 250, "price": "90.00", "currency": "EUR"}).status_code == 302
    package = CreditPackage.objects.get(agency=agency, credits=250)
    created = last("package.create")
    assert (created.object_id, created.agency_id) == (str(package.pk), agency.pk)
    assert created.changes == {"credits": [None, 250], "price_cents": [None, 9000], "currency": [None, "EUR"]}

    edit = {"credits": 300, "price": "90.00", "currency": "EUR"}
    assert console.post(f"/console/packages/{package.pk}/edit/", edit).status_code == 302
    assert last("package.update").changes == {"credits": [250, 300]}

    assert console.post(f"/console/packages/{package.pk}/visibility/", {"hidden": "1"}).status_code == 302
    assert last("package.hide").changes == {"hidden": [False, True]}

    assert console.post(f"/console/packages/{package.pk}/delete/").status_code == 302
    deleted = last("package.delete")
    assert deleted.object_id == str(package.pk) and deleted.changes["credits"] == [300, None]
    assert deleted.actor_id == agency.admin.pk


def test_activation_and_deactivation_are_recorded(admin_console):
    _console, agency = admin_console
    assert services.agency_set_active(agency=agency, active=False, actor=agency.admin) == []
    assert last("portal.deactivate").changes == {"is_active": [True, False]}
    assert services.agency_set_active(agency=agency, active=True, actor=agency.admin) == []
    entry = last("portal.activate")
    assert entry.changes == {"is_active": [False, True]} and entry.actor_id == agency.admin.pk


def test_deactivating_from_the_console_is_recorded_with_the_address(admin_console):
    console, agency = admin_console
    assert console.post("/console/activation/", {"active": "0", "confirm": "1"}).status_code == 302
    entry = last("portal.deactivate")
    assert _who(entry, agency) == (agency.admin.pk, agency.admin.email, "agency", agency.pk, IP)


def test_advanced_stripe_settings_record_secrets_as_changed_only(make_agency):
    agency = make_agency()
    data = {
        "stripe_publishable_key": "pk_test_new12345678",
        "stripe_secret_key": "sk_test_verysecret9876",
        "stripe_product_id": "prod_new",
        "stripe_price_id": "price_new",
        "stripe_webhook_secret": "whsec_verysecret9876",
    }
    services.agency_update_stripe(agency=agency, data=data, actor=agency.admin)
    entry = last("stripe.settings")
    assert entry.changes["stripe_secret_key"] == ["changed", "changed"]
    assert entry.changes["stripe_webhook_secret"] == ["changed", "changed"]
    assert entry.changes["stripe_product_id"] == ["", "prod_new"]
    assert "verysecret" not in str(entry.changes)


def test_client_notes_suspension_and_resumption_are_recorded(admin_console, make_client_user):
    console, agency = admin_console
    organization = make_client_user(agency, company_name="Acme").organization
    base = f"/console/ops/clients/{organization.pk}"
    assert console.post(f"{base}/notes/", {"notes": "Pays late"}).status_code == 302
    notes = last("client.notes")
    assert notes.changes == {"notes": ["", "Pays late"]}
    # The notes are the agency's private ones: they never reach the client's own log.
    assert (notes.agency_id, notes.organization_id) == (agency.pk, None)

    assert console.post(f"{base}/suspend/", {"reason": "Unpaid invoice"}).status_code == 302
    suspended = last("client.suspend")
    assert (suspended.agency_id, suspended.organization_id, suspended.actor_id) == (
        agency.pk,
        organization.pk,
        agency.admin.pk,
    )
    assert suspended.changes == {"reason": ["", "Unpaid invoice"], "suspended": [False, True]}

    assert console.post(f"{base}/resume/").status_code == 302
    assert last("client.resume").changes == {"suspended": [True, False]}
    # Saying it again changes nothing and logs nothing.
    console.post(f"{base}/resume/")
    assert AuditEntry.objects.filter(action="client.resume").count() == 1


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", IP),  # no trusted proxy: the header is the client's to forge, ignored
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "10.9.9.9, 198.51.100.1", "198.51.100.1"),  # the forged left entry is not taken
        (2, "198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", IP),  # fewer hops than proxies: not trusted
        (1, "not-an-address", IP),
    ],
)
def test_the_address_comes_from_trusted_proxies_only(admin_console, settings, proxies, forwarded, expected):
    console, agency = admin_console
    settings.PORTAL_TRUSTED_PROXY_COUNT = proxies
    data = {"company_name": "Moved", "logo_url": "", "primary_color": "#123456", "accent_color": "#ABCDEF"}
    console.post("/console/branding/", {**data, "slug": agency.slug}, HTTP_X_FORWARDED_FOR=forwarded)
    assert last("branding.change").ip == expected


def test_moving_a_package_is_recorded_with_its_place(admin_console):
    console, agency = admin_console
    console.post("/console/packages/", {"credits": 500, "price": "150.00", "currency": "EUR"})
    big = CreditPackage.objects.get(agency=agency, credits=500)
    assert console.post(f"/console/packages/{big.pk}/move/", {"direction": "up"}).status_code == 302
    entry = last("package.move")
    assert (entry.object_id, entry.actor_id) == (str(big.pk), agency.admin.pk)
    assert entry.changes["position"][1] == 1


def test_the_agencys_notification_switches_are_recorded(admin_console):
    console, agency = admin_console
    assert console.post("/console/ops/notifications/", {"notify_purchase": "on"}).status_code == 302
    entry = last("alerts.notifications")
    assert entry.changes == {"notify_client_signup": [True, False]} and entry.actor_id == agency.admin.pk

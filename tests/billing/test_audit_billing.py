"""Billing changes an admin makes are audit entries: allocations, deductions, refunds, Stripe, prices, reloads."""

import uuid

from agencies.models import AuditEntry, User
from billing import auto_reload, ledger

IP = "127.0.0.1"


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("pk")


def _post(console, organization, action: str, credits: str, confirm: bool = False):
    form = {"action": action, "credits": credits, "description": "Invoice 7", "token": uuid.uuid4().hex}
    if confirm:
        form["confirm"] = "1"
    return console.post(f"/console/billing/clients/{organization.pk}/allocate/", form)


def test_an_allocation_and_a_deduction_are_recorded_for_the_client(admin_console):
    console, agency, organization = admin_console
    assert _post(console, organization, "allocate", "250").status_code == 302
    entry = last("client.allocate")
    assert (entry.actor_id, entry.actor_kind, entry.agency_id, entry.organization_id, entry.ip) == (
        agency.admin.pk,
        "agency",
        agency.pk,
        organization.pk,
        IP,
    )
    assert entry.changes == {"balance": [0, 250]} and entry.object_type == "ledgerentry"
    assert entry.object_repr == "Invoice 7"

    assert _post(console, organization, "deduct", "100", confirm=True).status_code == 302
    assert last("client.deduct").changes == {"balance": [250, 150]}


def test_a_refused_deduction_or_a_repeated_form_records_nothing(admin_console):
    console, _agency, organization = admin_console
    assert _post(console, organization, "deduct", "5", confirm=True).status_code == 400
    token = uuid.uuid4().hex
    form = {"action": "allocate", "credits": "10", "description": "x", "token": token}
    console.post(f"/console/billing/clients/{organization.pk}/allocate/", form)
    console.post(f"/console/billing/clients/{organization.pk}/allocate/", form)
    assert list(AuditEntry.objects.filter(action__startswith="client.").values_list("action", flat=True)) == [
        "client.allocate"
    ]


def test_minutes_the_operator_adds_are_recorded_as_the_operators(make_agency):
    agency = make_agency()
    operator = User.objects.create_superuser("op@example.com", "pw-operator-1")
    ledger.minutes_add(agency=agency, amount=500, description="Invoice P-1", actor=operator, reference="m:1")
    entry = last("minutes.add")
    assert (entry.actor_kind, entry.agency_id, entry.changes) == ("operator", agency.pk, {"balance": [0, 500]})


def test_a_refund_is_recorded_with_the_amount_and_reason(console, credited):
    agency, organization, purchase = credited
    form = {"amount": "12.50", "reason": "duplicate", "note": "Paid twice", "token": uuid.uuid4().hex}
    assert console.post(f"/console/billing/purchases/{purchase.pk}/refund/", form).status_code == 302
    entry = last("purchase.refund")
    assert (entry.actor_id, entry.agency_id, entry.organization_id, entry.object_id) == (
        agency.admin.pk,
        agency.pk,
        organization.pk,
        str(purchase.pk),
    )
    assert entry.changes == {"note": ["", "Paid twice"], "reason": ["", "duplicate"], "refunded_cents": [0, 1250]}


def test_saving_a_stripe_key_records_the_set_up_without_any_secret(console, make_agency, stripe_account):
    agency = make_agency()
    console.force_login(agency.admin)
    console.post("/console/packages/", {"credits": 100, "price": "40.00", "currency": "EUR"})
    account = stripe_account()
    assert console.post("/console/stripe/", {"secret_key": account.secret_key}).status_code == 302
    entry = last("stripe.key")
    assert entry.actor_id == agency.admin.pk and entry.ip == IP
    assert entry.changes["stripe_secret_key"] == ["changed", "changed"]
    assert entry.changes["stripe_webhook_secret"] == ["changed", "changed"]
    assert entry.changes["stripe_webhook_endpoint_id"][0] == ""
    assert account.secret_key not in str(entry.changes)
    agency.refresh_from_db()
    assert agency.stripe_webhook_secret not in str(entry.changes)


def test_connecting_and_disconnecting_stripe_are_recorded(console, make_agency, stripe_platform):
    agency = make_agency()
    console.force_login(agency.admin)
    assert console.post("/console/billing/connect/test-account/").status_code == 302
    agency.refresh_from_db()
    connected = last("stripe.connect")
    assert connected.actor_id == agency.admin.pk and connected.agency_id == agency.pk
    assert connected.changes["stripe_account_id"] == ["", agency.stripe_account_id]
    assert console.post("/console/billing/connect/disconnect/").status_code == 302
    disconnected = last("stripe.disconnect")
    assert (disconnected.object_id, disconnected.changes) == (agency.stripe_account_id, {"connected": [True, False]})
    assert disconnected.actor_id == agency.admin.pk


def test_the_top_up_price_change_is_recorded(admin_console):
    console, _agency, _organization = admin_console
    assert console.post("/console/billing/topup-price/", {"rate": "0.25"}).status_code == 302
    assert last("packages.topup_price").changes == {"topup_rate_cents": [None, 25]}
    console.post("/console/billing/topup-price/", {"rate": "0.25"})
    assert AuditEntry.objects.filter(action="packages.topup_price").count() == 1  # unchanged: nothing logged


def test_auto_reload_settings_changes_are_recorded_for_the_client(make_agency, make_client_user):
    agency = make_agency(active=True)
    user = make_client_user(agency)
    organization = user.organization
    auto_reload.auto_reload_update(organization=organization, changes={"threshold": 50}, by=user.email, user=user)
    auto_reload.auto_reload_update(organization=organization, changes={"threshold": 80}, by=user.email, user=user)
    entry = last("auto_reload.change")
    assert (entry.actor_id, entry.actor_kind, entry.agency_id, entry.organization_id) == (
        user.pk,
        "client",
        agency.pk,
        organization.pk,
    )
    assert entry.changes == {"threshold": [50, 80]}

"""/api/v1/ keys act with the role of the account that created it, as that role is now.

A client's member may create a key (capability api_keys) but may not buy, manage payment methods or
auto-reload, see invoices or transactions, or change alerts in the browser: its key may not either. A
refusal is 403 role_forbidden and changes nothing, at Stripe included.
"""

# ruff: noqa: F811 -- the stand-in's fixtures are imported here and named as test arguments

import json

import pytest

from agencies import members
from agencies.models import AuditEntry, Role, User
from billing import payment_methods
from billing.models import AutoReload, LedgerEntry, Purchase
from ops.models import AlertSettings
from tests.billing.topups import saved_method
from tests.conftest import PASSWORD
from tests.stripe_fixtures import (  # noqa: F401 -- fixtures
    stripe_account,
    stripe_agency,
    stripe_base,
    stripe_platform,
    stripe_standin,
)
from tests.usage.conftest import Api
from usage import keys
from usage.models import ApiKey

pytestmark = pytest.mark.django_db


class Key:
    """One key's requests, with an Idempotency-Key of its own per top-up."""

    def __init__(self, secret: str):
        self.api, self.auth, self.topups = Api(), {"HTTP_AUTHORIZATION": f"Bearer {secret}"}, 0

    def call(self, method: str, path: str, body=None, **params):
        client, headers = self.api.client, dict(self.auth)
        if method == "GET":
            return client.get(f"/api/v1/{path}", params, **headers)
        if path == "billing/topup":
            self.topups += 1
            headers["HTTP_IDEMPOTENCY_KEY"] = f"{self.auth['HTTP_AUTHORIZATION'][-8:]}-{self.topups}"
        data = json.dumps(body) if body is not None else ""
        send = getattr(client, method.lower())
        return send(f"/api/v1/{path}", data, content_type="application/json", **headers)


@pytest.fixture
def team(stripe_agency, make_client_user):
    """A client organization on a stand-in Stripe account with a saved card, and an owner, a billing and a
    member account, each with a key of its own (and a key nobody signed in made)."""
    agency = stripe_agency()
    owner = make_client_user(agency, company_name="Client One")
    org = owner.organization
    agency.org = org
    agency.method = saved_method(agency, org)
    agency.people = {"owner": owner}
    for role in (Role.BILLING, Role.MEMBER):
        agency.people[role] = User.objects.create_user(
            f"{role}@client-one.example", PASSWORD, agency=agency, organization=org, role=role
        )
    agency.keys = {
        name: keys.api_key_create(name=f"{name} app", organization=org, created_by=person)
        for name, person in agency.people.items()
    }
    agency.keys["system"] = keys.api_key_create(name="made by the operator", organization=org)
    return agency


def _state(team) -> tuple:
    """Everything a refused request must leave alone: balance, ledger, purchases, settings, audit, and Stripe."""
    team.org.refresh_from_db()
    team.refresh_from_db()
    return (
        team.org.credits_balance,
        team.org.low_balance_threshold,
        team.minutes_balance,
        team.low_balance_threshold,
        LedgerEntry.objects.count(),
        Purchase.objects.count(),
        list(AutoReload.objects.values()),
        list(AlertSettings.objects.values()),
        AuditEntry.objects.count(),
        len(team.stripe.deliveries()),
        payment_methods.methods_list(agency=team, organization=team.org),
    )


def _billing_requests(team) -> list[tuple[str, str, dict | None, int]]:
    """(method, path, body, the status an owner's key gets) for every endpoint a member's role may not use."""
    method = team.method
    reload_on = {"enabled": True, "threshold": 50, "amount": 2000, "payment_method_id": method, "monthly_cap": 10000}
    return [
        ("POST", "billing/topup", {"amount": 2000, "currency": "EUR", "payment_method_id": method}, 201),
        ("GET", "billing/payment-methods", None, 200),
        ("POST", "billing/payment-methods", {}, 201),
        ("POST", f"billing/payment-methods/{method}/default", {}, 200),
        ("PUT", "billing/auto-reload", reload_on, 200),
        ("PUT", "billing/alerts", {"threshold": 25, "webhook_url": "https://example.com/hooks/low"}, 200),
        ("GET", "billing/invoices", None, 200),
        ("GET", "billing/transactions", None, 200),
        ("DELETE", f"billing/payment-methods/{method}", None, 204),
    ]


def test_a_members_key_is_refused_whatever_spends_or_shows_billing_and_nothing_changes(team):
    member = Key(team.keys[Role.MEMBER].secret)
    before = _state(team)
    for method, path, body, _ in _billing_requests(team):
        response = member.call(method, path, body)
        assert response.status_code == 403, (method, path, response.content)
        error = response.json()["error"]
        assert error["code"] == "role_forbidden"
        assert "(Member)" in error["message"] and "created it" in error["message"], error["message"]
    assert _state(team) == before


def test_a_members_key_is_told_in_plain_words_what_its_role_may_not_do(team):
    member = Key(team.keys[Role.MEMBER].secret)
    topup = member.call("POST", "billing/topup", {"amount": 2000, "currency": "EUR", "payment_method_id": "pm_x"})
    assert topup.json()["error"]["message"] == (
        "This API key acts with the role of the account that created it (Member), which may not buy credits. "
        "Use a key created by an account that may."
    )
    invoices = member.call("GET", "billing/invoices")
    assert "may not see invoices" in invoices.json()["error"]["message"]


def test_a_members_key_still_reads_balances_usage_and_settings(team):
    member = Key(team.keys[Role.MEMBER].secret)
    for path in ("account", "billing/balance", "billing/usage", "usage", "billing/auto-reload", "billing/alerts"):
        response = member.call("GET", path)
        assert response.status_code == 200, (path, response.content)
    authorized = member.call("POST", "calls/authorize", {"max_minutes": 5})
    assert authorized.status_code == 402, authorized.content  # not 403: the role may; the credits are missing


@pytest.mark.parametrize("creator", ["owner", Role.BILLING, "system"])
def test_an_owners_a_billing_accounts_and_the_systems_key_may_do_all_of_it(team, creator):
    key = Key(team.keys[creator].secret)
    for method, path, body, status in _billing_requests(team):
        response = key.call(method, path, body)
        assert response.status_code == status, (method, path, response.content)
    team.org.refresh_from_db()
    assert team.org.credits_balance == 50 and Purchase.objects.count() == 1  # 2000 cents at 40 a credit
    # Deleting the card last turned auto-reload off again; what was set stays.
    assert AutoReload.objects.get(organization=team.org).amount_cents == 2000
    assert AlertSettings.objects.get(organization=team.org).webhook_url == "https://example.com/hooks/low"


def test_a_key_made_by_nobody_signed_in_has_no_creator_and_acts_as_owner(team):
    api_key = team.keys["system"].api_key
    assert api_key.created_by_id is None
    assert keys.api_key_find(secret=team.keys["system"].secret).role == Role.OWNER


def test_demoting_the_creator_applies_to_its_key_at_once_and_promoting_it_again_too(team):
    key = Key(team.keys[Role.BILLING].secret)
    billing = team.people[Role.BILLING]
    assert key.call("GET", "billing/invoices").status_code == 200
    members.member_role_change(actor=team.people["owner"], member=billing, role=Role.MEMBER)
    before = _state(team)
    refused = key.call("POST", "billing/topup", {"amount": 2000, "currency": "EUR", "payment_method_id": team.method})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_forbidden"
    assert key.call("GET", "billing/invoices").status_code == 403
    assert _state(team) == before
    members.member_role_change(actor=team.people["owner"], member=billing, role=Role.BILLING)
    assert key.call("GET", "billing/invoices").status_code == 200


@pytest.mark.parametrize("leaving", [Role.MEMBER, Role.BILLING])
def test_removing_a_member_revokes_the_keys_it_created_with_an_audit_entry(team, leaving):
    person = team.people[leaving]
    theirs = team.keys[leaving].api_key
    old = keys.api_key_create(name="old one", organization=team.org, created_by=person).api_key
    keys.api_key_revoke(api_key=old, actor=person)
    members.member_remove(actor=team.people["owner"], member=person)

    response = Key(team.keys[leaving].secret).call("GET", "billing/balance")
    assert response.status_code == 401 and response.json()["error"]["code"] == "revoked_api_key"
    # A key whose creator is gone would act as owner: it must never work again.
    spend = Key(team.keys[leaving].secret).call(
        "POST", "billing/topup", {"amount": 2000, "currency": "EUR", "payment_method_id": team.method}
    )
    assert spend.status_code == 401 and Purchase.objects.count() == 0
    theirs.refresh_from_db()
    assert theirs.created_by_id is None and theirs.revoked_at is not None
    (entry,) = AuditEntry.objects.filter(action="api_key.revoke", object_id=str(theirs.pk))
    assert entry.changes == {"revoked": [False, True], "created_by": [person.email, None]}
    assert (entry.agency_id, entry.organization_id, entry.actor_kind) == (team.pk, team.org.pk, "system")
    assert AuditEntry.objects.filter(action="api_key.revoke", object_id=str(old.pk)).count() == 1  # not again
    # Everyone else's keys keep working.
    for other in ("owner", "system"):
        assert Key(team.keys[other].secret).call("GET", "billing/balance").status_code == 200


def test_deleting_an_account_any_other_way_revokes_its_keys_too(make_agency):
    agency = make_agency(active=True)
    admin = User.objects.create_user("admin@agency.example", PASSWORD, managed_agency=agency, role=Role.ADMIN)
    made = keys.api_key_create(name="sync", agency=agency, created_by=admin)
    admin.delete()  # the operator in Django admin, say
    assert ApiKey.objects.get(pk=made.api_key.pk).revoked_at is not None
    assert keys.api_key_find(secret=made.secret).revoked


@pytest.fixture
def agency_team(team):
    """The team's agency with an account of each agency role, each holding an agency key it made.

    Only an owner or an admin may make agency keys: the billing and viewer accounts made theirs as admins
    and were given their role afterwards, which is what the key acts with now.
    """
    people = {Role.OWNER: team.admin}
    for role in (Role.ADMIN, Role.BILLING, Role.VIEWER):
        people[role] = User.objects.create_user(
            f"{role}@agency.example", PASSWORD, managed_agency=team, role=Role.ADMIN
        )
    team.agency_keys = {
        role: keys.api_key_create(name=f"{role} sync", agency=team, created_by=person).secret
        for role, person in people.items()
    }
    for role, person in people.items():
        if person.role != role:
            members.member_role_change(actor=team.admin, member=person, role=role)
    return team


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.OWNER, True), (Role.BILLING, True), (Role.ADMIN, False), (Role.VIEWER, False)],
)
def test_an_agency_key_buys_for_a_client_only_with_an_owner_or_billing_creator(agency_team, role, allowed):
    key = Key(agency_team.agency_keys[role])
    before = _state(agency_team)
    body = {"amount": 2000, "currency": "EUR", "payment_method_id": agency_team.method}
    response = key.call("POST", "billing/topup", {**body, "organization_id": agency_team.org.pk})
    if allowed:
        assert response.status_code == 201, response.content
        agency_team.org.refresh_from_db()
        assert agency_team.org.credits_balance == 50
    else:
        assert response.status_code == 403 and response.json()["error"]["code"] == "role_forbidden"
        assert f"({role.label})" in response.json()["error"]["message"]
        assert "may not buy minutes" in response.json()["error"]["message"]
        assert _state(agency_team) == before
    methods = key.call("GET", "billing/payment-methods", organization_id=agency_team.org.pk)
    assert methods.status_code == (200 if allowed else 403)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.OWNER, True), (Role.ADMIN, True), (Role.BILLING, False), (Role.VIEWER, False)],
)
def test_an_agency_key_changes_alerts_only_with_an_owner_or_admin_creator(agency_team, role, allowed):
    key = Key(agency_team.agency_keys[role])
    response = key.call("PUT", "billing/alerts", {"threshold": 30})
    assert response.status_code == (200 if allowed else 403), response.content
    agency_team.refresh_from_db()
    assert (agency_team.low_balance_threshold == 30) == allowed
    # Every agency role sees the agency's invoices and transactions.
    assert key.call("GET", "billing/invoices").status_code == 200
    assert key.call("GET", "billing/transactions").status_code == 200

"""Invitations: an owner invites an address with a role, on the console (agency members) or a portal
(organization members); the invitee accepts on that host only, once, within 7 days, as that address."""

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from agencies import invitations
from agencies.invitation_models import Invitation, invitation_token_hash
from agencies.models import AuditEntry, User
from tests.conftest import NOON, PASSWORD, host
from tests.pg_locks import until_waiting_on_a_lock

LINK = re.compile(r"(https?://[^/\s]+)(/invitations/([A-Za-z0-9_-]+)/)")
NEW_PASSWORD = "a-fresh-long-password-9"


@pytest.fixture
def bakery_owner(acme, make_client_user):
    return make_client_user(acme, email="owner@bakery.example", company_name="Moonlight Bakery")


def on(http_host: str, user: User | None = None) -> Client:
    """A test client (its own cookies) on `http_host`, logged in as `user` if given."""
    browser = Client(HTTP_HOST=http_host)
    if user is not None:
        browser.force_login(user)
    return browser


def invite(browser: Client, captured, email: str, role: str):
    """Post the invite form where `browser` is; the email goes out when the request's transaction commits."""
    url = reverse("console:invitations") if browser.defaults["HTTP_HOST"] == "localhost" else "/settings/invitations/"
    sent_before = len(mail.outbox)
    with captured(execute=True):
        response = browser.post(url, {"email": email, "role": role})
    return response, mail.outbox[sent_before:]


def link_of(message) -> tuple[str, str, str]:
    """(origin, path, token) of the invitation link in an email."""
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1), match.group(2), match.group(3)


def portal_invite(bakery_owner, acme, captured, email="Sam@Example.com", role="billing") -> str:
    response, sent = invite(on(host(acme), bakery_owner), captured, email, role)
    assert response.status_code == 302, response.content
    return link_of(sent[0])[1]


def console_invite(acme, captured, email="Sam@Example.com", role="admin") -> str:
    response, sent = invite(on("localhost", acme.admin), captured, email, role)
    assert response.status_code == 302, response.content
    return link_of(sent[0])[1]


def sign_up(browser: Client, path: str, password: str = NEW_PASSWORD):
    return browser.post(path, {"password1": password, "password2": password})


# --- inviting ---------------------------------------------------------------------------------------


def test_console_owner_invites_and_the_email_links_to_the_console(acme, django_capture_on_commit_callbacks):
    response, sent = invite(on("localhost", acme.admin), django_capture_on_commit_callbacks, "Sam@Example.com", "admin")

    assert response.status_code == 302
    assert len(sent) == 1 and sent[0].to == ["sam@example.com"]
    origin, _, token = link_of(sent[0])
    assert origin == "http://localhost"
    assert "Acme Calls" in sent[0].subject and "Admin" in sent[0].body
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.organization_id) == ("sam@example.com", "admin", None)
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    # Only the token's hash is stored.
    assert invitation.token_hash == invitation_token_hash(token) and token not in invitation.token_hash
    entry = AuditEntry.objects.get(action="member.invite")
    assert entry.agency_id == acme.pk and entry.changes == {"email": [None, "sam@example.com"], "role": [None, "admin"]}
    page = on("localhost", acme.admin).get(reverse("console:invitations")).text
    assert "sam@example.com" in page and "Resend" in page and "Revoke" in page


def test_client_owner_invites_and_the_email_comes_from_the_portal(
    acme, bakery_owner, django_capture_on_commit_callbacks
):
    response, sent = invite(
        on(host(acme), bakery_owner), django_capture_on_commit_callbacks, "sam@example.com", "member"
    )

    assert response.status_code == 302
    origin, _, _ = link_of(sent[0])
    assert origin == "http://acme.localhost"
    assert "Acme Calls" in sent[0].from_email and "Moonlight Bakery" in sent[0].subject
    invitation = Invitation.objects.get()
    assert invitation.organization == bakery_owner.organization and invitation.role == "member"
    assert AuditEntry.objects.get(action="member.invite").organization_id == bakery_owner.organization_id


def test_the_email_leaves_only_after_the_transaction_commits(acme, bakery_owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        on(host(acme), bakery_owner).post("/settings/invitations/", {"email": "sam@example.com", "role": "member"})
    assert mail.outbox == [] and len(callbacks) == 1


def test_roles_offered_are_the_tenants_own(acme, bakery_owner, django_capture_on_commit_callbacks):
    response, sent = invite(
        on(host(acme), bakery_owner), django_capture_on_commit_callbacks, "sam@example.com", "admin"
    )
    assert response.status_code == 400 and sent == []
    response, sent = invite(
        on("localhost", acme.admin), django_capture_on_commit_callbacks, "sam@example.com", "member"
    )
    assert response.status_code == 400 and sent == []
    assert not Invitation.objects.exists()


def test_a_second_invitation_to_the_same_address_in_any_case_is_refused(
    acme, bakery_owner, django_capture_on_commit_callbacks
):
    portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks, email="foo@x.com")
    response, sent = invite(on(host(acme), bakery_owner), django_capture_on_commit_callbacks, "FOO@X.COM", "member")
    assert response.status_code == 400 and sent == []
    assert "invited already" in response.text
    assert Invitation.objects.count() == 1


def test_a_member_cannot_be_invited_again(acme, bakery_owner, make_client_user, django_capture_on_commit_callbacks):
    response, sent = invite(
        on(host(acme), bakery_owner), django_capture_on_commit_callbacks, "OWNER@bakery.example", "member"
    )
    assert response.status_code == 400 and "already a member" in response.text
    make_client_user(acme, email="other@shop.example", company_name="Shop")
    response, sent = invite(
        on(host(acme), bakery_owner), django_capture_on_commit_callbacks, "other@shop.example", "member"
    )
    assert response.status_code == 400 and "another organization" in response.text
    assert sent == [] and not Invitation.objects.exists()


@pytest.mark.parametrize("role", ["admin", "billing", "viewer"])
def test_only_agency_owners_may_invite(acme, role, django_capture_on_commit_callbacks):
    colleague = User.objects.create_user("colleague@acme.example", PASSWORD, managed_agency=acme, role=role)
    invitation = invitations.invitation_create(actor=acme.admin, agency=acme, email="x@example.com", role="viewer")
    browser = on("localhost", colleague)

    assert browser.get(reverse("console:invitations")).status_code == 403
    response, sent = invite(browser, django_capture_on_commit_callbacks, "sam@example.com", "viewer")
    assert response.status_code == 403 and sent == []
    assert browser.post(reverse("console:invitation_resend", args=[invitation.pk])).status_code == 403
    assert browser.post(reverse("console:invitation_revoke", args=[invitation.pk])).status_code == 403
    invitation.refresh_from_db()
    assert invitation.is_open and Invitation.objects.count() == 1
    assert not AuditEntry.objects.filter(action__in=["member.invite_resend", "member.invite_revoke"]).exists()


@pytest.mark.parametrize("role", ["billing", "member"])
def test_only_organization_owners_may_invite(acme, bakery_owner, role, django_capture_on_commit_callbacks):
    colleague = User.objects.create_user(
        "colleague@bakery.example", PASSWORD, agency=acme, organization=bakery_owner.organization, role=role
    )
    browser = on(host(acme), colleague)
    assert browser.get("/settings/invitations/").status_code == 403
    response, sent = invite(browser, django_capture_on_commit_callbacks, "sam@example.com", "member")
    assert response.status_code == 403 and sent == [] and not Invitation.objects.exists()
    assert "Invitations" not in browser.get("/").text  # no link to a page it may not open


def test_the_service_refuses_a_non_owner_too(acme):
    viewer = User.objects.create_user("viewer@acme.example", PASSWORD, managed_agency=acme, role="viewer")
    with pytest.raises(PermissionDenied, match="may not manage members"):
        invitations.invitation_create(actor=viewer, agency=acme, email="sam@example.com", role="viewer")
    assert not Invitation.objects.exists()


# --- tenant isolation -------------------------------------------------------------------------------


def test_an_owner_sees_and_changes_only_its_own_tenants_invitations(
    acme, bolt, bakery_owner, make_client_user, django_capture_on_commit_callbacks
):
    theirs = invitations.invitation_create(actor=bolt.admin, agency=bolt, email="bolt-hire@example.com", role="admin")
    shop_owner = make_client_user(acme, email="owner@shop.example", company_name="Shop")
    neighbours = invitations.invitation_create(
        actor=shop_owner,
        agency=acme,
        organization=shop_owner.organization,
        email="shop-hire@example.com",
        role="member",
    )
    mine = invitations.invitation_create(actor=acme.admin, agency=acme, email="acme-hire@example.com", role="viewer")

    console = on("localhost", acme.admin)
    page = console.get(reverse("console:invitations")).text
    assert "acme-hire@example.com" in page and "bolt-hire" not in page and "shop-hire" not in page
    for other in (theirs, neighbours):
        assert console.post(reverse("console:invitation_revoke", args=[other.pk])).status_code == 404
        assert console.post(reverse("console:invitation_resend", args=[other.pk])).status_code == 404

    portal = on(host(acme), bakery_owner)
    page = portal.get("/settings/invitations/").text
    assert "shop-hire" not in page and "acme-hire" not in page
    for other in (theirs, neighbours, mine):
        assert portal.post(f"/settings/invitations/{other.pk}/revoke/").status_code == 404
    assert all(i.is_open for i in Invitation.objects.all())


# --- accepting --------------------------------------------------------------------------------------


def test_invitee_creates_a_portal_account_of_that_portal_and_lands_signed_in(
    acme, bakery_owner, django_capture_on_commit_callbacks
):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks, email="Sam@Example.com")
    browser = on(host(acme))

    page = browser.get(path)
    assert page.status_code == 200 and "Join Moonlight Bakery" in page.text and "sam@example.com" in page.text
    assert page["Referrer-Policy"] == "same-origin"  # the token in the address goes to no logo's host
    response = sign_up(browser, path)

    assert response.status_code == 302
    sam = User.objects.get(email="sam@example.com")
    assert (sam.agency, sam.organization, sam.role, sam.managed_agency) == (
        acme,
        bakery_owner.organization,
        "billing",
        None,
    )
    assert int(browser.session["_auth_user_id"]) == sam.pk
    assert "Moonlight Bakery" in browser.get("/", follow=True).text
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == sam and invitation.accepted_at is not None
    join = AuditEntry.objects.get(action="member.join")
    assert (join.actor_id, join.organization_id, join.changes) == (
        sam.pk,
        bakery_owner.organization_id,
        {"role": [None, "billing"]},
    )
    assert sam.emailaddress_set.get().verified


def test_invitee_creates_a_console_account_for_the_agency(acme, django_capture_on_commit_callbacks):
    path = console_invite(acme, django_capture_on_commit_callbacks, role="billing")
    browser = on("localhost")

    response = sign_up(browser, path)

    assert response.status_code == 302
    sam = User.objects.get(email="sam@example.com")
    assert (sam.agency, sam.managed_agency, sam.organization, sam.role) == (None, acme, None, "billing")
    assert browser.get(reverse("console:dashboard")).status_code == 200


def test_a_weak_or_mismatched_password_is_a_form_error_and_makes_nothing(
    acme, bakery_owner, django_capture_on_commit_callbacks
):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    browser = on(host(acme))
    assert sign_up(browser, path, password="12345678").status_code == 400
    response = browser.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert response.status_code == 400 and "The two passwords differ" in response.text
    assert not User.objects.filter(email="sam@example.com").exists()
    assert Invitation.objects.get().is_open


@pytest.mark.now(NOON)
def test_an_expired_link_says_so_and_creates_no_account(acme, bakery_owner, clock, django_capture_on_commit_callbacks):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    clock.shift(timedelta(days=7, seconds=1))
    browser = on(host(acme))

    page = browser.get(path)
    assert page.status_code == 410 and "This invitation expired on 2026-05-20" in page.text
    assert sign_up(browser, path).status_code == 410
    assert not User.objects.filter(email="sam@example.com").exists()
    assert "Expired" in on(host(acme), bakery_owner).get("/settings/invitations/").text


@pytest.mark.now(NOON)
def test_a_link_works_until_its_seventh_day_ends(acme, bakery_owner, clock, django_capture_on_commit_callbacks):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    clock.shift(timedelta(days=6, hours=23))
    assert sign_up(on(host(acme)), path).status_code == 302


def test_a_used_link_says_so_and_makes_no_second_account(acme, bakery_owner, django_capture_on_commit_callbacks):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    assert sign_up(on(host(acme)), path).status_code == 302

    other = on(host(acme))
    page = other.get(path)
    assert page.status_code == 410 and "already been used" in page.text
    assert sign_up(other, path).status_code == 410
    assert User.objects.filter(email="sam@example.com").count() == 1
    assert AuditEntry.objects.filter(action="member.join").count() == 1


def test_a_double_click_makes_one_account(acme, bakery_owner, django_capture_on_commit_callbacks):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    browser = on(host(acme))
    first, second = sign_up(browser, path), sign_up(on(host(acme)), path)
    assert first.status_code == 302 and second.status_code == 410
    assert User.objects.filter(email="sam@example.com").count() == 1


def test_a_revoked_link_says_so(acme, bakery_owner, django_capture_on_commit_callbacks):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    owner = on(host(acme), bakery_owner)
    assert owner.post(f"/settings/invitations/{invitation.pk}/revoke/").status_code == 302

    browser = on(host(acme))
    page = browser.get(path)
    assert page.status_code == 410 and "withdrawn" in page.text
    assert sign_up(browser, path).status_code == 410
    assert not User.objects.filter(email="sam@example.com").exists()
    assert AuditEntry.objects.filter(action="member.invite_revoke", object_id=str(invitation.pk)).count() == 1
    assert 'data-testid="invitation-row"' not in owner.get("/settings/invitations/").text


@pytest.mark.now(NOON)
def test_resend_kills_the_old_link_and_gives_seven_more_days(
    acme, bakery_owner, clock, django_capture_on_commit_callbacks
):
    old = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    clock.shift(timedelta(days=8))  # expired: resending opens it again
    with django_capture_on_commit_callbacks(execute=True):
        response = on(host(acme), bakery_owner).post(f"/settings/invitations/{invitation.pk}/resend/")
    assert response.status_code == 302
    _, new, _ = link_of(mail.outbox[-1])

    assert new != old
    assert on(host(acme)).get(old).status_code == 404
    invitation.refresh_from_db()
    assert invitation.expires_at == invitation.sent_at + timedelta(days=7) > invitation.created_at + timedelta(days=8)
    entry = AuditEntry.objects.get(action="member.invite_resend")
    assert entry.changes["token"] == ["changed", "changed"]
    assert sign_up(on(host(acme)), new).status_code == 302


def test_an_unknown_link_is_not_found(acme):
    page = on(host(acme)).get("/invitations/not-a-real-token/")
    assert page.status_code == 404 and "not valid" in page.text


# --- the right host only -----------------------------------------------------------------------------


def test_a_portal_invitation_is_not_found_on_another_portal_or_the_console(
    acme, bolt, bakery_owner, django_capture_on_commit_callbacks
):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    for http_host in (host(bolt), "localhost"):
        browser = on(http_host)
        assert browser.get(path).status_code == 404
        assert sign_up(browser, path).status_code == 404
    assert not User.objects.filter(email="sam@example.com").exists()
    assert Invitation.objects.get().is_open


def test_a_console_invitation_is_not_found_on_a_portal(acme, django_capture_on_commit_callbacks):
    path = console_invite(acme, django_capture_on_commit_callbacks)
    browser = on(host(acme))
    assert browser.get(path).status_code == 404
    assert sign_up(browser, path).status_code == 404
    assert not User.objects.filter(email="sam@example.com").exists()


def test_the_same_address_on_another_portal_does_not_count(
    acme, bolt, bakery_owner, make_client_user, django_capture_on_commit_callbacks
):
    make_client_user(bolt, email="sam@example.com", company_name="Elsewhere")  # a bolt account, not an acme one
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    assert sign_up(on(host(acme)), path).status_code == 302
    assert User.objects.filter(email="sam@example.com").count() == 2
    assert User.objects.get(email="sam@example.com", agency=acme).organization == bakery_owner.organization


# --- who accepts -------------------------------------------------------------------------------------


def test_logged_in_as_another_address_is_refused_plainly(
    acme, bakery_owner, make_client_user, django_capture_on_commit_callbacks
):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    someone = User.objects.create_user("someone@example.com", PASSWORD, agency=acme)
    browser = on(host(acme), someone)

    page = browser.get(path)
    assert page.status_code == 403
    assert "This invitation is for sam@example.com, but you are logged in as someone@example.com" in page.text
    assert browser.post(path).status_code == 403
    someone.refresh_from_db()
    assert someone.organization is None and Invitation.objects.get().is_open


def test_logged_in_as_the_invited_address_in_another_case_accepts(
    acme, bakery_owner, django_capture_on_commit_callbacks
):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks, email="Foo@X.com")
    # An account of this portal with no organization (say, removed from one), saved in another case.
    foo = User.objects.create_user("foo@x.com", PASSWORD, agency=acme, role="owner")
    User.objects.filter(pk=foo.pk).update(email="FOO@x.com")
    browser = on(host(acme), foo)

    assert "Accept invitation" in browser.get(path).text
    assert browser.post(path).status_code == 302
    foo.refresh_from_db()
    assert (foo.organization, foo.role) == (bakery_owner.organization, "billing")
    assert Invitation.objects.get().accepted_by == foo


def test_an_existing_account_here_is_asked_to_log_in_then_accepts(
    acme, bakery_owner, django_capture_on_commit_callbacks
):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    User.objects.create_user("SAM@example.com", PASSWORD, agency=acme)
    browser = on(host(acme))

    page = browser.get(path)
    assert "exists here already. Log in to accept" in page.text and f"next={path}" in page.text.replace("%2F", "/")
    response = sign_up(browser, path)
    assert response.status_code == 400 and "Log in to accept" in response.text  # no second account
    assert User.objects.filter(email__iexact="sam@example.com", agency=acme).count() == 1

    response = browser.post("/accounts/login/", {"login": "sam@example.com", "password": PASSWORD, "next": path})
    assert response.status_code == 302 and response["Location"] == path
    assert browser.post(path).status_code == 302
    assert User.objects.get(agency=acme, email__iexact="sam@example.com").organization == bakery_owner.organization


def test_an_account_in_another_organization_cannot_accept(
    acme, bakery_owner, make_client_user, django_capture_on_commit_callbacks
):
    path = portal_invite(bakery_owner, acme, django_capture_on_commit_callbacks)
    sam = make_client_user(acme, email="sam@example.com", company_name="Sam's Shop")  # joined another one since
    for browser in (on(host(acme)), on(host(acme), sam)):
        page = browser.get(path)
        assert page.status_code == 403 and "already belongs to another organization" in page.text
        assert browser.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 403
    sam.refresh_from_db()
    assert sam.organization.name == "Sam's Shop" and Invitation.objects.get().is_open


def test_a_console_account_of_another_agency_cannot_accept(acme, bolt, django_capture_on_commit_callbacks):
    response, sent = invite(
        on("localhost", acme.admin), django_capture_on_commit_callbacks, bolt.admin.email.upper(), "admin"
    )
    assert response.status_code == 400 and "already manages another agency" in response.text and sent == []

    path = console_invite(acme, django_capture_on_commit_callbacks)
    sam = User.objects.create_user("sam@example.com", PASSWORD, managed_agency=bolt, role="viewer")  # since then
    browser = on("localhost", sam)
    page = browser.get(path)
    assert page.status_code == 403 and "already manages another agency" in page.text
    assert browser.post(path).status_code == 403
    sam.refresh_from_db()
    assert sam.managed_agency == bolt and Invitation.objects.get().is_open


# --- the race (PostgreSQL) ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_accepts_at_once_make_one_account(acme, bakery_owner, django_capture_on_commit_callbacks):
    invitation = invitations.invitation_create(
        actor=bakery_owner, agency=acme, organization=bakery_owner.organization, email="sam@example.com", role="billing"
    )
    token, invitation.token_hash = "race-token", invitation_token_hash("race-token")
    invitation.save(update_fields=["token_hash"])
    first_accepted, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def accept(name: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                outcomes[name] = invitations.invitation_accept(token=token, agency=acme, password=NEW_PASSWORD)
                if hold:  # keep the lock until the other accept is waiting on it
                    first_accepted.set()
                    release.wait(5)
        except Exception as error:
            outcomes[name] = error
        finally:
            connection.close()

    winner = threading.Thread(target=accept, args=("first", True))
    winner.start()
    assert first_accepted.wait(10)
    loser = threading.Thread(target=accept, args=("second", False))
    loser.start()
    assert until_waiting_on_a_lock()  # the second accept is blocked on the invitation's row lock
    release.set()
    winner.join()
    loser.join()

    assert isinstance(outcomes["first"], User)
    assert isinstance(outcomes["second"], invitations.InvitationClosed), outcomes["second"]
    assert User.objects.filter(email="sam@example.com").count() == 1
    assert AuditEntry.objects.filter(action="member.join").count() == 1

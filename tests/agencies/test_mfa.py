"""Two-factor sign-in (allauth.mfa): turning it on and off, signing in with a code or a recovery code,
the rate limit on codes, and an agency requiring it of its members and of its clients' users."""

import re
import time
from contextlib import nullcontext
from io import StringIO
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa import signals
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from cryptography.fernet import Fernet
from django.core.management import call_command

from agencies import mfa
from agencies.models import AuditEntry, Role, User
from tests.conftest import PASSWORD, host

CONSOLE = "localhost"
SETUP = "/accounts/2fa/totp/activate/"
# Where an account that must set two-factor sign-in up is sent: allauth's two-factor page, which offers an
# authenticator app and security keys.
CHOOSE = "/accounts/2fa/"
ADD_KEY = "/accounts/2fa/webauthn/add/"
AUTHENTICATE = "/accounts/2fa/authenticate/"


def totp(secret: str, step: int = 0) -> str:
    """The authenticator app's code for `secret`, `step` periods of 30 seconds from now (allauth's own HOTP)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))


def wrong_code(secret: str) -> str:
    """A six-digit code that is none of those allauth accepts right now (one step either side)."""
    valid = {totp(secret, step) for step in (-1, 0, 1)}
    return next(code for n in range(1000) if (code := f"{n:06d}") not in valid)


def log_in(client, http_host: str, email: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password}, HTTP_HOST=http_host)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def confirm_password(client, http_host: str) -> None:
    """allauth asks for the password again before two-factor sign-in is set up."""
    page = client.get(SETUP, HTTP_HOST=http_host)
    assert page.status_code == 302 and page["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(page["Location"], {"password": PASSWORD}, HTTP_HOST=http_host)
    assert response.status_code == 302 and response["Location"] == SETUP


def _no_capture(**kwargs):
    return nullcontext()


def enable_totp(client, http_host: str, user: User, on_commit=_no_capture) -> str:
    """Log in and turn the authenticator app on through allauth's pages, as a person does; the secret.

    allauth tells that it was turned on (its signal, which the audit log hangs on) once the transaction
    commits: pass `django_capture_on_commit_callbacks` as `on_commit` to see that happen."""
    assert log_in(client, http_host, user.email).status_code == 302
    confirm_password(client, http_host)
    page = client.get(SETUP, HTTP_HOST=http_host)
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    assert secret in page.text  # shown for typing into an app without a camera
    with on_commit(execute=True):
        response = client.post(SETUP, {"code": totp(secret)}, HTTP_HOST=http_host)
    assert response.status_code == 302, response.text
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    assert mfa.mfa_enabled(user=user)
    return secret


def recovery_codes(user: User) -> list[str]:
    return Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES).wrap().get_unused_codes()


@pytest.fixture
def jane(acme, make_client_user):
    return make_client_user(acme, email="jane@example.com", company_name="Jane's Dental")


# --- turning it on and off ------------------------------------------------------------------------------


def test_portal_user_turns_totp_on_and_the_secret_is_encrypted_at_rest(
    client, acme, jane, django_capture_on_commit_callbacks
):
    secret = enable_totp(client, host(acme), jane, django_capture_on_commit_callbacks)

    stored = Authenticator.objects.get(user=jane, type=Authenticator.Type.TOTP)
    assert secret not in str(stored.data)
    assert len(recovery_codes(jane)) == 10
    codes_page = client.get("/accounts/2fa/recovery-codes/", HTTP_HOST=host(acme))
    assert recovery_codes(jane)[0] in codes_page.text
    assert "Acme Calls" in codes_page.text  # the portal's branded layout
    entry = AuditEntry.objects.get(action="mfa.enable")
    assert (entry.actor_id, entry.agency_id, entry.organization_id) == (jane.pk, acme.pk, jane.organization_id)
    assert entry.changes == {"totp": [False, True]}


def test_a_wrong_code_does_not_turn_it_on(client, acme, jane):
    log_in(client, host(acme), jane.email)
    confirm_password(client, host(acme))
    client.get(SETUP, HTTP_HOST=host(acme))
    secret = client.session["mfa.totp.secret"]

    response = client.post(SETUP, {"code": wrong_code(secret)}, HTTP_HOST=host(acme))

    assert response.status_code == 200
    assert "Incorrect code." in response.text
    assert not mfa.mfa_enabled(user=jane)
    assert not AuditEntry.objects.filter(action="mfa.enable").exists()


def test_console_member_turns_totp_on_and_off_and_both_are_audited(client, acme, django_capture_on_commit_callbacks):
    owner = acme.admin
    enable_totp(client, CONSOLE, owner, django_capture_on_commit_callbacks)
    index = client.get("/accounts/2fa/", HTTP_HOST=CONSOLE)
    assert "Authentication using an authenticator app is active." in index.text
    assert 'href="/console/packages/"' in index.text  # the console's layout, with its menu

    response = client.post("/accounts/2fa/totp/deactivate/", HTTP_HOST=CONSOLE)

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=owner).exists()  # the recovery codes go with it
    actions = list(AuditEntry.objects.filter(actor_id=owner.pk).order_by("pk").values_list("action", "changes"))
    assert actions == [("mfa.enable", {"totp": [False, True]}), ("mfa.disable", {"totp": [True, False]})]
    entry = AuditEntry.objects.get(action="mfa.disable")
    assert (entry.agency_id, entry.organization_id, entry.actor_kind) == (acme.pk, None, "agency")


# --- signing in -----------------------------------------------------------------------------------------


def test_login_asks_for_the_code_after_the_password(client, acme, jane):
    secret = enable_totp(client, host(acme), jane)
    client.post("/accounts/logout/", HTTP_HOST=host(acme))

    response = log_in(client, host(acme), jane.email)

    assert response.status_code == 302
    assert response["Location"] == AUTHENTICATE
    assert not signed_in(client)
    assert client.get("/billing/", HTTP_HOST=host(acme)).status_code == 302  # still to the login page
    page = client.get(AUTHENTICATE, HTTP_HOST=host(acme))
    assert "Acme Calls" in page.text and "authenticator code" in page.text
    response = client.post(AUTHENTICATE, {"code": totp(secret, 1)}, HTTP_HOST=host(acme))
    assert response.status_code == 302
    assert signed_in(client)
    assert client.get("/billing/", HTTP_HOST=host(acme)).status_code == 200


def test_a_wrong_code_is_refused_at_login(client, acme, jane):
    secret = enable_totp(client, host(acme), jane)
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    log_in(client, host(acme), jane.email)

    response = client.post(AUTHENTICATE, {"code": wrong_code(secret)}, HTTP_HOST=host(acme))

    assert response.status_code == 200
    assert "Incorrect code." in response.text
    assert not signed_in(client)


def test_a_code_works_once(client, acme, jane):
    secret = enable_totp(client, host(acme), jane)
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    log_in(client, host(acme), jane.email)
    code = totp(secret, 1)
    client.post(AUTHENTICATE, {"code": code}, HTTP_HOST=host(acme))
    assert signed_in(client)
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    log_in(client, host(acme), jane.email)

    response = client.post(AUTHENTICATE, {"code": code}, HTTP_HOST=host(acme))

    assert "Incorrect code." in response.text
    assert not signed_in(client)


def test_a_recovery_code_signs_in_once(client, acme, jane):
    enable_totp(client, host(acme), jane)
    code = recovery_codes(jane)[3]
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    log_in(client, host(acme), jane.email)

    response = client.post(AUTHENTICATE, {"code": code}, HTTP_HOST=host(acme))

    assert response.status_code == 302 and signed_in(client)
    assert code not in recovery_codes(jane) and len(recovery_codes(jane)) == 9
    assert AuditEntry.objects.filter(action="mfa.recovery_code_use", actor_id=jane.pk).count() == 1
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    log_in(client, host(acme), jane.email)
    again = client.post(AUTHENTICATE, {"code": code}, HTTP_HOST=host(acme))
    assert "Incorrect code." in again.text
    assert not signed_in(client)


def test_wrong_codes_are_rate_limited_per_account(client, acme, jane):
    secret = enable_totp(client, host(acme), jane)
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    log_in(client, host(acme), jane.email)
    for _ in range(5):
        assert "Incorrect code." in client.post(AUTHENTICATE, {"code": wrong_code(secret)}, HTTP_HOST=host(acme)).text

    response = client.post(AUTHENTICATE, {"code": totp(secret, 1)}, HTTP_HOST=host(acme))

    assert "Too many failed login attempts" in response.text
    assert not signed_in(client)


# --- the agency's requirement ---------------------------------------------------------------------------


def test_owner_requires_mfa_on_the_security_page_and_it_is_audited(client, acme):
    log_in(client, CONSOLE, acme.admin.email)
    page = client.get("/console/security/", HTTP_HOST=CONSOLE)
    assert page.status_code == 200 and "Require two-factor sign-in for your clients" in page.text

    response = client.post("/console/security/", {"mfa_required_clients": "on"}, HTTP_HOST=CONSOLE)

    assert response.status_code == 302
    acme.refresh_from_db()
    assert (acme.mfa_required_members, acme.mfa_required_clients) == (False, True)
    entry = AuditEntry.objects.get(action="security.mfa_required")
    assert entry.changes == {"mfa_required_clients": [False, True]}
    assert (entry.agency_id, entry.actor_id) == (acme.pk, acme.admin.pk)
    client.post("/console/security/", {"mfa_required_clients": "on"}, HTTP_HOST=CONSOLE)
    assert AuditEntry.objects.filter(action="security.mfa_required").count() == 1  # nothing changed, no entry


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.VIEWER])
def test_only_an_owner_changes_the_requirement(client, acme, role):
    member = User.objects.create_user("member@acme.example", PASSWORD, managed_agency=acme, role=role)
    log_in(client, CONSOLE, member.email)
    assert "Only an owner can change this." in client.get("/console/security/", HTTP_HOST=CONSOLE).text

    response = client.post("/console/security/", {"mfa_required_members": "on"}, HTTP_HOST=CONSOLE)

    assert response.status_code == 403
    acme.refresh_from_db()
    assert not acme.mfa_required_members
    assert not AuditEntry.objects.filter(action="security.mfa_required").exists()


def test_required_mfa_sends_an_unenrolled_member_to_setup_and_blocks_the_console(client, acme):
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=True, clients=False)
    log_in(client, CONSOLE, acme.admin.email)

    for path in ("/", "/console/", "/console/packages/", "/console/security/", "/accounts/password/change/"):
        assert client.get(path, HTTP_HOST=CONSOLE)["Location"] == CHOOSE, path
    assert client.post("/console/packages/", {"credits": 1}, HTTP_HOST=CONSOLE)["Location"] == CHOOSE
    confirm_password(client, CONSOLE)
    setup = client.get(SETUP, HTTP_HOST=CONSOLE)
    assert setup.status_code == 200 and "requires two-factor sign-in" in setup.text
    assert client.get("/accounts/2fa/", HTTP_HOST=CONSOLE).status_code == 200

    secret = client.session["mfa.totp.secret"]
    client.post(SETUP, {"code": totp(secret)}, HTTP_HOST=CONSOLE)
    assert client.get("/console/packages/", HTTP_HOST=CONSOLE).status_code == 200


def test_required_mfa_sends_an_unenrolled_client_to_setup_and_blocks_the_portal(client, acme, jane):
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=False, clients=True)

    response = log_in(client, host(acme), jane.email)
    assert client.get(response["Location"], HTTP_HOST=host(acme))["Location"] == CHOOSE

    for path in ("/", "/billing/", "/billing/buy/", "/settings/api-keys/", "/settings/billing/"):
        assert client.get(path, HTTP_HOST=host(acme))["Location"] == CHOOSE, path
    confirm_password(client, host(acme))
    choose = client.get(CHOOSE, HTTP_HOST=host(acme)).text
    assert f'href="{SETUP}"' in choose and f'href="{ADD_KEY}"' in choose  # an app or a security key
    assert client.get(SETUP, HTTP_HOST=host(acme)).status_code == 200
    assert client.get(ADD_KEY, HTTP_HOST=host(acme)).status_code == 200
    assert client.get("/accounts/email/", HTTP_HOST=host(acme)).status_code == 200  # to verify the address
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    assert not signed_in(client)


def test_the_api_is_unaffected_by_required_mfa(client, acme, jane):
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=True, clients=True)
    log_in(client, host(acme), jane.email)

    response = client.get("/api/v1/billing/balance", HTTP_HOST=host(acme))

    assert response.status_code == 401  # asks for its key, as for anyone; not sent to a setup page


def test_not_required_means_no_redirect(client, acme, jane):
    log_in(client, host(acme), jane.email)
    assert client.get("/billing/", HTTP_HOST=host(acme)).status_code == 200
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    log_in(client, CONSOLE, acme.admin.email)
    assert client.get("/console/packages/", HTTP_HOST=CONSOLE).status_code == 200


def test_members_and_clients_are_required_separately(client, acme, jane):
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=False, clients=True)
    log_in(client, CONSOLE, acme.admin.email)
    assert client.get("/console/packages/", HTTP_HOST=CONSOLE).status_code == 200

    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=True, clients=False)
    assert client.get("/console/packages/", HTTP_HOST=CONSOLE)["Location"] == CHOOSE
    client.post("/accounts/logout/", HTTP_HOST=CONSOLE)
    log_in(client, host(acme), jane.email)
    assert client.get("/billing/", HTTP_HOST=host(acme)).status_code == 200


def test_one_agencys_requirement_does_not_reach_another_agencys_accounts(client, acme, bolt, make_client_user):
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=True, clients=True)
    bob = make_client_user(bolt, email="jane@example.com")  # the same email, on another portal

    log_in(client, host(bolt), bob.email)
    assert client.get("/billing/", HTTP_HOST=host(bolt)).status_code == 200
    client.post("/accounts/logout/", HTTP_HOST=host(bolt))
    log_in(client, CONSOLE, bolt.admin.email)
    assert client.get("/console/packages/", HTTP_HOST=CONSOLE).status_code == 200


def test_an_enrolled_account_is_let_through_once_signed_in_with_its_code(client, acme, jane):
    secret = enable_totp(client, host(acme), jane)
    client.post("/accounts/logout/", HTTP_HOST=host(acme))
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=False, clients=True)

    log_in(client, host(acme), jane.email)
    client.post(AUTHENTICATE, {"code": totp(secret, 1)}, HTTP_HOST=host(acme))

    assert client.get("/billing/", HTTP_HOST=host(acme)).status_code == 200


def test_operator_is_never_required(client, acme, db):
    operator = User.objects.create_superuser("operator@example.com", PASSWORD)
    assert not mfa.mfa_required(user=operator)


def test_rotate_secrets_re_encrypts_two_factor_secrets(client, acme, jane, settings):
    old, new = list(settings.FIELD_ENCRYPTION_KEYS), Fernet.generate_key().decode()
    secret = enable_totp(client, host(acme), jane)
    code = recovery_codes(jane)[0]
    client.post("/accounts/logout/", HTTP_HOST=host(acme))

    settings.FIELD_ENCRYPTION_KEYS = [new, *old]
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Rotated 2 two-factor secrets." in out.getvalue()
    assert secret not in out.getvalue()

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key dropped: both still work
    log_in(client, host(acme), jane.email)
    client.post(AUTHENTICATE, {"code": totp(secret, 1)}, HTTP_HOST=host(acme))
    assert signed_in(client)
    assert code in recovery_codes(jane)


def test_required_mfa_with_an_unverified_email_verifies_it_first(client, acme, jane, mailoutbox):
    EmailAddress.objects.create(user=jane, email=jane.email, primary=True, verified=False)
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=False, clients=True)
    log_in(client, host(acme), jane.email)

    response = client.get("/billing/", HTTP_HOST=host(acme))
    assert response["Location"] == "/accounts/email/"
    page = client.get("/accounts/email/", HTTP_HOST=host(acme))
    assert "Verify your email address first" in page.text
    client.post("/accounts/email/", {"action_send": "", "email": jane.email}, HTTP_HOST=host(acme))
    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s/]+/", mailoutbox[-1].body)
    assert link is not None
    confirm = urlsplit(link.group(0)).path
    assert client.post(confirm, HTTP_HOST=host(acme)).status_code == 302

    assert client.get("/billing/", HTTP_HOST=host(acme))["Location"] == CHOOSE


def test_a_required_account_cannot_turn_its_authenticator_off(client, acme, jane):
    enable_totp(client, host(acme), jane)
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=False, clients=True)

    page = client.get("/accounts/2fa/totp/deactivate/", HTTP_HOST=host(acme))
    response = client.post("/accounts/2fa/totp/deactivate/", HTTP_HOST=host(acme))

    assert "You cannot deactivate two-factor authentication." in page.text
    assert response.status_code == 200 and "You cannot deactivate" in response.text
    assert mfa.mfa_enabled(user=jane)
    assert not AuditEntry.objects.filter(action="mfa.disable").exists()


# --- security keys (WebAuthn) ------------------------------------------------------------------------------
# Registering and signing in with a key need an authenticator's signature: tests/browser/test_webauthn_browser.py
# does both with Chromium's virtual authenticator. Here a key is a row as allauth stores one.


def add_key(user: User, name: str = "Blue key") -> Authenticator:
    return Authenticator.objects.create(
        user=user, type=Authenticator.Type.WEBAUTHN, data={"name": name, "credential": {}}
    )


def test_a_security_key_is_a_second_factor(acme, jane, make_client_user):
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=False, clients=True)
    make_client_user(acme, email="rob@example.com")
    assert mfa.mfa_setup_needed(user=jane)

    add_key(jane)

    assert mfa.mfa_enabled(user=jane)
    assert not mfa.mfa_setup_needed(user=User.objects.get(pk=jane.pk))
    assert mfa.mfa_coverage(agency=acme)["clients"] == {"total": 2, "enabled": 1}


def test_recovery_codes_left_alone_are_not_a_second_factor(acme, jane):
    Authenticator.objects.create(user=jane, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x"})

    assert not mfa.mfa_enabled(user=jane)
    assert mfa.mfa_coverage(agency=acme)["clients"] == {"total": 1, "enabled": 0}


def test_the_relying_party_is_the_host_the_key_is_added_on(client, acme, bolt, jane, make_client_user):
    """A key is bound to its relying party id: each portal's own host (and the console's), so the browser
    never offers a key added on one portal to another."""
    bob = make_client_user(bolt, email="jane@example.com")  # the same person, on another portal
    for user, http_host in ((jane, host(acme)), (bob, host(bolt)), (acme.admin, CONSOLE)):
        log_in(client, http_host, user.email)
        reauthenticate = client.get(ADD_KEY, HTTP_HOST=http_host)["Location"]
        client.post(reauthenticate, {"password": PASSWORD}, HTTP_HOST=http_host)

        page = client.get(ADD_KEY, HTTP_HOST=http_host)

        assert page.status_code == 200
        assert page.context["js_data"]["creation_options"]["publicKey"]["rp"]["id"] == http_host
        client.post("/accounts/logout/", HTTP_HOST=http_host)


def test_adding_and_removing_a_key_is_audited(client, acme, jane):
    log_in(client, host(acme), jane.email)
    key = add_key(jane)
    # What allauth's add flow sends once the browser's key has signed (see the browser test).
    signals.authenticator_added.send(sender=Authenticator, request=None, user=jane, authenticator=key)
    remove = f"/accounts/2fa/webauthn/keys/{key.pk}/remove/"
    reauthenticate = client.get(remove, HTTP_HOST=host(acme))["Location"]
    client.post(reauthenticate, {"password": PASSWORD}, HTTP_HOST=host(acme))

    response = client.post(remove, HTTP_HOST=host(acme))

    assert response.status_code == 302
    assert not mfa.mfa_enabled(user=jane)
    entries = AuditEntry.objects.filter(actor_id=jane.pk, action__startswith="mfa.").order_by("pk")
    assert list(entries.values_list("action", "changes")) == [
        ("mfa.key_add", {"security_key": ["", "Blue key"]}),
        ("mfa.key_remove", {"security_key": ["Blue key", ""]}),
    ]
    assert {(e.agency_id, e.organization_id) for e in entries} == {(acme.pk, jane.organization_id)}


def test_a_required_account_turns_its_app_off_only_while_a_key_remains(client, acme, jane):
    enable_totp(client, host(acme), jane)
    mfa.agency_mfa_require(agency=acme, actor=acme.admin, members=False, clients=True)
    add_key(jane)

    response = client.post("/accounts/2fa/totp/deactivate/", HTTP_HOST=host(acme))

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=jane, type=Authenticator.Type.TOTP).exists()
    assert mfa.mfa_enabled(user=jane)  # the key

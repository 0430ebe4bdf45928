"""View as client: an agency owner or admin opens a client's portal as that client, read-only, for 30 minutes.

The console issues a one-minute, single-use token and redirects to the portal's /view-as/<token>/, which
logs in as the organization's owner (no portal password) and marks the session; every write is refused,
secrets are never shown, a banner names the view on every page, and its start and end are audited.
"""

import re
import threading
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from agencies import mfa, view_as
from agencies.middleware import HOST_INDEPENDENT_PATHS
from agencies.models import AuditEntry, Role, User, ViewAsToken
from billing.models import LedgerEntry, StripeCustomer
from tests.conftest import NOON, PASSWORD, credits_add, host
from usage.models import ApiKey

pytestmark = pytest.mark.now(NOON)

BANNER = 'data-testid="view-as-banner"'


@pytest.fixture
def agency(make_agency):
    return make_agency(active=True, company_name="Sunrise Calls")


@pytest.fixture
def owner(agency, make_client_user):
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    credits_add(user.organization, 250)
    return user


@pytest.fixture
def org(owner):
    return owner.organization


def member(agency, role: str) -> User:
    """A console account of `agency` with an agency role (the agency's first admin is its owner)."""
    if role == Role.OWNER:
        return agency.admin
    return User.objects.create_user(f"{role}@sunrise.example", PASSWORD, managed_agency=agency, role=role)


def console_as(user: User) -> Client:
    browser = Client(HTTP_HOST="localhost")
    browser.force_login(user)
    return browser


def start_url(org) -> str:
    return f"/console/clients/{org.pk}/view-as/"


def issue(agency, org, by: User) -> str:
    """Press "View as client" on the console: the portal URL it redirects to (with the token)."""
    response = console_as(by).post(start_url(org))
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert url.netloc == host(agency)
    assert url.path.startswith("/view-as/")
    return url.path


def open_view(agency, org, by: User) -> Client:
    """A browser on the client's portal, in a view opened by `by`."""
    portal = Client(HTTP_HOST=host(agency))
    response = portal.get(issue(agency, org, by))
    assert response.status_code == 302 and response["Location"] == "/"
    return portal


def ledger_state(org) -> tuple[int, int]:
    org.refresh_from_db()
    return LedgerEntry.objects.count(), org.credits_balance


# --- who may -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owner_and_admin_open_the_clients_dashboard_as_its_owner_without_its_password(agency, owner, org, role):
    by = member(agency, role)
    last_login = owner.last_login
    portal = open_view(agency, org, by)

    page = portal.get("/")
    assert page.status_code == 200
    assert page.wsgi_request.user.pk == owner.pk
    html = page.text
    assert BANNER in html
    assert "You are viewing <strong>Moonlight Bakery</strong> as <strong>" + by.email + "</strong>. Read-only." in html
    assert "250" in html  # the client's own dashboard
    session = portal.session[view_as.SESSION_KEY]
    assert session["by_user_id"] == by.pk and session["by_email"] == by.email
    assert session["organization_id"] == org.pk
    started, expires = (datetime.fromisoformat(session[key]) for key in ("started_at", "expires_at"))
    assert expires - started == timedelta(minutes=30)
    [entry] = AuditEntry.objects.filter(action="view_as.start")
    assert (entry.actor_id, entry.actor_email, entry.actor_kind) == (by.pk, by.email, "agency")
    assert (entry.agency_id, entry.organization_id) == (agency.pk, org.pk)
    assert entry.changes["account"] == [None, owner.email]
    owner.refresh_from_db()
    assert owner.last_login == last_login  # the client's "last signed in" is not the view's


@pytest.mark.parametrize("role", [Role.BILLING, Role.VIEWER])
def test_billing_and_viewer_members_are_refused(agency, org, role):
    by = member(agency, role)
    browser = console_as(by)
    assert 'data-testid="view-as-form"' not in browser.get(f"/console/ops/clients/{org.pk}/").text
    response = browser.post(start_url(org))
    assert response.status_code == 403
    assert not ViewAsToken.objects.exists() and not AuditEntry.objects.filter(action__startswith="view_as.").exists()


def test_the_client_page_offers_the_button_to_owners(agency, org):
    html = console_as(agency.admin).get(f"/console/ops/clients/{org.pk}/").text
    assert 'data-testid="view-as-form"' in html and f'action="{start_url(org)}"' in html


def test_another_agencys_client_is_404(agency, make_agency, make_client_user):
    stranger = make_client_user(make_agency(active=True)).organization
    assert console_as(agency.admin).post(start_url(stranger)).status_code == 404
    assert not ViewAsToken.objects.exists()


def test_the_start_is_a_post(agency, org):
    assert console_as(agency.admin).get(start_url(org)).status_code == 405


def test_a_switched_off_portal_or_a_client_without_an_owner_says_why(agency, org, owner):
    browser = console_as(agency.admin)
    org.owner = None
    org.save(update_fields=["owner"])
    User.objects.filter(pk=owner.pk).update(role=Role.MEMBER)
    response = browser.post(start_url(org), follow=True)
    assert "has no owner account to view the portal as" in response.text
    agency.is_active = False
    agency.save(update_fields=["is_active"])
    response = browser.post(start_url(org), follow=True)
    assert "Your portal is switched off" in response.text
    assert not ViewAsToken.objects.exists()


def test_the_first_owner_member_is_used_when_the_primary_owner_is_gone(agency, org, owner):
    second = User.objects.create_user("bo@moonlight.example", PASSWORD, agency=agency, organization=org)
    org.owner = None
    org.save(update_fields=["owner"])
    portal = open_view(agency, org, agency.admin)
    assert portal.get("/").wsgi_request.user.pk == min(owner.pk, second.pk)


# --- the token -----------------------------------------------------------------------------------------------


def test_a_token_opens_one_view_only(agency, org):
    path = issue(agency, org, agency.admin)
    assert Client(HTTP_HOST=host(agency)).get(path).status_code == 302
    again = Client(HTTP_HOST=host(agency)).get(path)
    assert again.status_code == 410
    assert "expired or was used already" in again.text
    assert BANNER not in again.text
    assert AuditEntry.objects.filter(action="view_as.start").count() == 1


def test_only_the_tokens_hash_is_stored(agency, org):
    token = issue(agency, org, agency.admin).split("/")[2]
    row = ViewAsToken.objects.get()
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_a_token_expires_after_a_minute(agency, org, clock):
    fresh = issue(agency, org, agency.admin)
    stale = issue(agency, org, agency.admin)
    clock.shift(timedelta(seconds=55))
    assert Client(HTTP_HOST=host(agency)).get(fresh).status_code == 302
    clock.shift(timedelta(seconds=10))
    response = Client(HTTP_HOST=host(agency)).get(stale)
    assert response.status_code == 410
    assert not response.wsgi_request.user.is_authenticated


def test_a_token_opens_only_its_own_portal(agency, org, make_agency):
    other = make_agency(active=True)
    path = issue(agency, org, agency.admin)
    assert Client(HTTP_HOST=host(other)).get(path).status_code == 410
    assert Client(HTTP_HOST=host(agency)).get(path).status_code == 302  # not used up by the wrong portal


def test_a_token_is_refused_when_the_member_lost_the_role_meanwhile(agency, org):
    by = member(agency, Role.ADMIN)
    path = issue(agency, org, by)
    User.objects.filter(pk=by.pk).update(role=Role.VIEWER)
    assert Client(HTTP_HOST=host(agency)).get(path).status_code == 410
    assert not AuditEntry.objects.filter(action__startswith="view_as.").exists()


# --- read-only -----------------------------------------------------------------------------------------------


def _route(pattern) -> str:
    """A path matching a route: each converter filled with a plausible value."""
    route = str(pattern.pattern)
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: "1" if m.group(1) == "int" else "x", route.lstrip("^").rstrip("$"))


def portal_paths(patterns=None, prefix: str = "/") -> list[tuple[str, str]]:
    """(URL name, path) for every route of the portal's URLconf."""
    found = []
    for entry in get_resolver(settings.PORTAL_URLCONF).url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            found += portal_paths(entry.url_patterns, prefix + _route(entry))
        elif isinstance(entry, URLPattern) and "(?P" not in str(entry.pattern):  # allauth's regex routes: keys
            found.append((entry.name or "", prefix + _route(entry)))
    return found


def test_every_write_on_every_portal_page_is_refused_and_changes_nothing(agency, org):
    portal = open_view(agency, org, agency.admin)
    before = ledger_state(org), ApiKey.objects.count(), StripeCustomer.objects.count()
    # The key-authenticated API ignores sessions; /internal/tls-allowed answers every host, as no portal.
    paths = [
        (name, path)
        for name, path in portal_paths()
        if not path.startswith("/api/v1/") and path not in HOST_INDEPENDENT_PATHS
    ]
    assert len(paths) > 30
    refused = 0
    for name, path in paths:
        if name in {"end", "account_logout"}:
            continue
        for method in ("post", "put", "patch", "delete"):
            response = getattr(portal, method)(path, {"name": "x", "credits": "100"})
            assert response.status_code == 403, (method, path, response.status_code)
            assert response["Content-Type"].startswith("text/plain")
            assert "Read-only: you are viewing Moonlight Bakery" in response.text
            refused += 1
    assert refused > 100
    assert (ledger_state(org), ApiKey.objects.count(), StripeCustomer.objects.count()) == before
    assert portal.get("/").wsgi_request.user.is_authenticated  # still in the view


def test_no_api_key_is_made_and_no_payment_method_changed(agency, org):
    portal = open_view(agency, org, agency.admin)
    writes = [
        reverse("usage:keys", urlconf=settings.PORTAL_URLCONF),
        reverse("billing:payment_method_add", urlconf=settings.PORTAL_URLCONF),
        reverse("billing:payment_method_remove", urlconf=settings.PORTAL_URLCONF, args=["pm_card_visa"]),
        reverse("billing:payment_method_default", urlconf=settings.PORTAL_URLCONF, args=["pm_card_visa"]),
        reverse("billing:auto_reload", urlconf=settings.PORTAL_URLCONF),
        reverse("billing:buy_package", urlconf=settings.PORTAL_URLCONF, args=[1]),
        reverse("ops_portal:alerts_secret", urlconf=settings.PORTAL_URLCONF),
    ]
    for path in writes:
        assert portal.post(path, {"name": "Helper key"}).status_code == 403, path
    assert not ApiKey.objects.exists()
    assert not StripeCustomer.objects.exists()
    keys_page = portal.get("/settings/api-keys/").text
    assert 'data-testid="new-key-secret"' not in keys_page


def test_a_key_made_before_the_view_is_never_shown_in_it(agency, org, owner):
    # The client's own browser makes a key and sees it once; the view (its own session) never does.
    own = Client(HTTP_HOST=host(agency))
    own.force_login(owner)
    made = own.post("/settings/api-keys/", {"name": "Dialer"})
    assert made.status_code == 201
    [secret] = set(re.findall(r"wlk_[A-Za-z0-9_-]{43}", made.text))
    portal = open_view(agency, org, agency.admin)
    page = portal.get("/settings/api-keys/").text
    assert secret not in page and 'data-testid="new-key-secret"' not in page


def test_the_clients_own_session_is_not_read_only(agency, owner):
    own = Client(HTTP_HOST=host(agency))
    own.force_login(owner)
    page = own.get("/")
    assert BANNER not in page.text
    assert own.post("/settings/api-keys/", {"name": "Dialer"}).status_code == 201


@pytest.mark.parametrize(
    "name",
    ["home", "billing:home", "billing:buy", "usage:usage", "usage:keys", "invoices:settings", "ops_portal:alerts"],
)
def test_the_banner_is_on_every_portal_page(agency, org, name):
    portal = open_view(agency, org, agency.admin)
    response = portal.get(reverse(name, urlconf=settings.PORTAL_URLCONF))
    assert response.status_code == 200
    assert BANNER in response.text and 'action="/view-as/end/"' in response.text


# --- how it ends -----------------------------------------------------------------------------------------------


def _end_entry(how: str) -> AuditEntry:
    [entry] = AuditEntry.objects.filter(action="view_as.end")
    assert entry.changes == {"how": [None, how]}
    return entry


def test_end_logs_out_and_returns_to_the_clients_console_page(agency, org):
    by = member(agency, Role.ADMIN)
    portal = open_view(agency, org, by)
    response = portal.post("/view-as/end/")
    assert response.status_code == 302
    assert response["Location"] == f"http://localhost/console/ops/clients/{org.pk}/"
    after = portal.get("/")
    assert not after.wsgi_request.user.is_authenticated and BANNER not in after.text
    entry = _end_entry(view_as.ENDED)
    assert (entry.actor_id, entry.agency_id, entry.organization_id) == (by.pk, agency.pk, org.pk)
    views = AuditEntry.objects.filter(action__startswith="view_as.").order_by("pk")
    assert list(views.values_list("action", flat=True)) == ["view_as.start", "view_as.end"]


def test_logout_ends_the_view(agency, org):
    portal = open_view(agency, org, agency.admin)
    response = portal.post("/accounts/logout/")
    assert response.status_code == 302
    assert not portal.get("/").wsgi_request.user.is_authenticated
    assert _end_entry(view_as.LOGOUT).actor_id == agency.admin.pk


def test_the_view_ends_after_thirty_minutes(agency, org, clock):
    portal = open_view(agency, org, agency.admin)
    clock.shift(timedelta(minutes=29))
    assert BANNER in portal.get("/billing/").text
    assert not AuditEntry.objects.filter(action="view_as.end").exists()
    clock.shift(timedelta(minutes=1, seconds=1))
    response = portal.get("/billing/", follow=True)
    assert response.redirect_chain[0] == ("/", 302)
    assert "ended after 30 minutes" in response.text
    assert not response.wsgi_request.user.is_authenticated and BANNER not in response.text
    assert view_as.SESSION_KEY not in portal.session
    _end_entry(view_as.EXPIRED)


def test_an_expired_view_refuses_a_write_too(agency, org, clock):
    portal = open_view(agency, org, agency.admin)
    clock.shift(timedelta(minutes=31))
    response = portal.post("/settings/api-keys/", {"name": "late"})
    assert response.status_code == 302
    assert not ApiKey.objects.exists()
    _end_entry(view_as.EXPIRED)


def test_end_outside_a_view_changes_nothing(agency, owner):
    own = Client(HTTP_HOST=host(agency))
    own.force_login(owner)
    assert own.post("/view-as/end/")["Location"] == "/"
    assert own.get("/").wsgi_request.user.is_authenticated
    assert not AuditEntry.objects.filter(action__startswith="view_as.").exists()


@pytest.mark.postgres
def test_two_browsers_racing_for_one_token_open_one_view(transactional_db, make_agency, make_client_user):
    agency = make_agency(active=True)
    org = make_client_user(agency).organization
    path = issue(agency, org, agency.admin)
    barrier = threading.Barrier(2)
    statuses = []

    def redeem():
        browser = Client(HTTP_HOST=host(agency))
        barrier.wait()
        try:
            statuses.append(browser.get(path).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 410]
    assert AuditEntry.objects.filter(action="view_as.start").count() == 1


def test_a_client_two_factor_requirement_does_not_send_the_view_to_the_clients_setup(agency, org, owner):
    """The agency requires two-factor sign-in of its clients' users and this client has not set it up: the
    client itself is sent to set it up, but the agency owner viewing as the client sees the dashboard (the
    member signed in on the console; the view cannot set up the client's authenticator)."""
    mfa.agency_mfa_require(agency=agency, actor=agency.admin, members=False, clients=True)
    assert mfa.mfa_setup_needed(user=owner)
    own = Client(HTTP_HOST=host(agency))
    own.force_login(owner)
    assert own.get("/")["Location"].endswith("/accounts/2fa/")

    portal = open_view(agency, org, member(agency, Role.OWNER))
    page = portal.get("/")
    assert page.status_code == 200 and BANNER in page.text

"""Accounts are scoped to the host they were made on: sign-up, login, sessions,
password reset and email links, and allauth's rate limits."""

import re

import pytest
from django.conf import settings

from agencies.models import Agency, User
from tests.conftest import PASSWORD, host

OTHER_PASSWORD = "another-long-password-2"
CUSTOM = "calls.acme.example"
LINK = re.compile(r"https?://[^\s\"'<>]+")


def signup(client, http_host, email="jane@example.com", company="Jane's Dental", password=PASSWORD):
    return client.post(
        "/accounts/signup/",
        {
            "company_name": company,
            "email": email,
            "password1": password,
            "password2": password,
        },
        HTTP_HOST=http_host,
    )


def login(client, http_host, email, password, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password, **extra}, HTTP_HOST=http_host)


def logged_in_user_id(client):
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def links(message):
    return LINK.findall(message.body)


# --- sign-up --------------------------------------------------------------------


def test_agency_signup_on_console_creates_agency_with_user_as_admin(client, db):
    response = signup(client, "localhost", email="owner@agency.example", company="Reseller Ltd")

    assert response.status_code == 302
    user = User.objects.get(email="owner@agency.example")
    assert user.agency is None
    assert user.managed_agency.company_name == "Reseller Ltd"
    assert client.get("/console/", HTTP_HOST="localhost").status_code == 200


def test_client_signup_on_portal_creates_organization_owned_by_user(client, acme):
    response = signup(client, host(acme), company="Jane's Dental")

    assert response.status_code == 302
    user = User.objects.get(email="jane@example.com")
    assert user.agency == acme
    assert user.managed_agency is None
    organization = user.organization
    assert organization.name == "Jane's Dental"
    assert organization.agency == acme
    assert organization.owner == user
    dashboard = client.get("/", HTTP_HOST=host(acme)).text
    assert "Jane&#x27;s Dental" in dashboard


def test_signup_form_asks_for_company_name(client, acme):
    response = signup(client, host(acme), company="  ")
    assert response.status_code == 200
    assert "Enter your company name" in response.text or "This field is required" in response.text
    assert not User.objects.filter(email="jane@example.com").exists()


def test_same_email_signs_up_separately_on_two_portals_and_the_console(client, acme, bolt):
    for http_host in (host(acme), host(bolt), "localhost"):
        client.logout()
        assert signup(client, http_host, email="jane@example.com").status_code == 302

    accounts = User.objects.filter(email="jane@example.com")
    assert {user.agency_id for user in accounts} == {acme.pk, bolt.pk, None}
    assert Agency.objects.filter(admins__email="jane@example.com").count() == 1


@pytest.mark.parametrize("second_email", ["jane@example.com", "JANE@Example.com"])
def test_second_signup_with_same_email_on_same_portal_gets_form_error(client, acme, second_email):
    signup(client, host(acme), email="jane@example.com")
    client.logout()

    response = signup(client, host(acme), email=second_email, company="Another Co")

    assert response.status_code == 200
    assert "already exists" in response.text
    assert User.objects.filter(email__iexact="jane@example.com", agency=acme).count() == 1


# --- login and sessions ----------------------------------------------------------


@pytest.fixture
def jane_twice(acme, bolt, make_client_user):
    """jane@example.com on both portals, with different passwords."""
    on_acme = make_client_user(acme, email="jane@example.com")
    on_bolt = make_client_user(bolt, email="jane@example.com")
    on_bolt.set_password(OTHER_PASSWORD)
    on_bolt.save()
    return on_acme, on_bolt


def test_login_authenticates_only_the_account_of_its_own_portal(client, acme, jane_twice):
    on_acme, _on_bolt = jane_twice

    response = login(client, host(acme), "jane@example.com", OTHER_PASSWORD)  # bolt's password
    assert response.status_code == 200
    assert "not correct" in response.text
    assert logged_in_user_id(client) is None

    assert login(client, host(acme), "jane@example.com", PASSWORD).status_code == 302
    assert logged_in_user_id(client) == on_acme.pk


def test_console_login_cannot_log_in_a_portal_account(client, acme, make_client_user):
    make_client_user(acme, email="jane@example.com")
    response = login(client, "localhost", "jane@example.com", PASSWORD)
    assert response.status_code == 200
    assert logged_in_user_id(client) is None


def test_portal_login_cannot_log_in_a_console_account(client, acme):
    response = login(client, host(acme), acme.admin.email, PASSWORD)
    assert response.status_code == 200
    assert logged_in_user_id(client) is None


def test_session_from_one_host_is_not_logged_in_on_another(client, acme, bolt, jane_twice):
    response = login(client, host(acme), "jane@example.com", PASSWORD)
    assert response.cookies["sessionid"]["domain"] == ""  # host-only cookie
    assert "Client Co" in client.get("/", HTTP_HOST=host(acme)).text

    # The test client sends the cookie everywhere; a browser would not, and the
    # server must not honour it either.
    other_portal = client.get("/", HTTP_HOST=host(bolt))
    assert other_portal.status_code == 200
    assert "jane@example.com" not in other_portal.text
    assert "Create your account" in other_portal.text
    console = client.get("/console/", HTTP_HOST="localhost")
    assert console.status_code == 302 and "/accounts/login/" in console["Location"]


# --- links in emails ----------------------------------------------------------------


def test_password_reset_link_uses_the_verified_custom_domain(
    client, acme, make_client_user, verified_domain, mailoutbox
):
    verified_domain(acme, CUSTOM)
    make_client_user(acme, email="jane@example.com")

    # Asked on the slug host, which also serves this agency.
    response = client.post("/accounts/password/reset/", {"email": "jane@example.com"}, HTTP_HOST="acme.localhost:8000")

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    [url] = [url for url in links(mailoutbox[0]) if "/password/reset/key/" in url]
    assert url.startswith(f"http://{CUSTOM}/accounts/password/reset/key/")
    assert "acme.localhost" not in mailoutbox[0].body
    assert settings.PLATFORM_NAME not in mailoutbox[0].body + mailoutbox[0].subject
    assert "Acme Calls" in mailoutbox[0].subject

    # The link works where it points.
    path = url.split(CUSTOM, 1)[1]
    form = client.get(path, HTTP_HOST=CUSTOM, follow=True)
    assert form.status_code == 200
    assert 'name="password1"' in form.text


def test_password_reset_link_uses_the_slug_host_not_the_request_host(client, acme, make_client_user, mailoutbox):
    make_client_user(acme, email="jane@example.com")

    client.post("/accounts/password/reset/", {"email": "jane@example.com"}, HTTP_HOST="ACME.localhost:9999")

    [url] = [url for url in links(mailoutbox[0]) if "/password/reset/key/" in url]
    assert url.startswith("http://acme.localhost/accounts/password/reset/key/")


def test_verification_link_on_signup_uses_the_verified_custom_domain(client, acme, verified_domain, mailoutbox):
    verified_domain(acme, CUSTOM)

    signup(client, "acme.localhost")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    [url] = [url for url in links(message) if "/confirm-email/" in url]
    assert url.startswith(f"http://{CUSTOM}/accounts/confirm-email/")
    assert "acme.localhost" not in message.body
    assert settings.PLATFORM_NAME not in message.body + message.subject

    client.logout()
    path = url.split(CUSTOM, 1)[1]
    assert client.post(path, HTTP_HOST=CUSTOM).status_code == 302
    user = User.objects.get(email="jane@example.com", agency=acme)
    assert user.emailaddress_set.get().verified


def test_verification_link_on_console_signup_uses_the_console_url(client, db, mailoutbox):
    signup(client, "LOCALHOST:8000", email="owner@agency.example", company="Reseller Ltd")

    [url] = [url for url in links(mailoutbox[0]) if "/confirm-email/" in url]
    assert url.startswith("http://localhost/accounts/confirm-email/")


def test_password_reset_on_one_portal_never_reaches_another_portals_account(
    client,
    acme,
    bolt,
    make_client_user,
    mailoutbox,
):
    only_on_bolt = make_client_user(bolt, email="jane@example.com")

    response = client.post("/accounts/password/reset/", {"email": "jane@example.com"}, HTTP_HOST="acme.localhost:8000")

    assert response.status_code == 302  # same answer as for a known email
    assert not any("/password/reset/key/" in url for m in mailoutbox for url in links(m))
    # Whatever allauth tells an unknown address points at this portal, canonically.
    for url in (url for m in mailoutbox for url in links(m)):
        assert url.startswith("http://acme.localhost/")
    only_on_bolt.refresh_from_db()
    assert only_on_bolt.check_password(PASSWORD)


def test_reset_link_for_one_portal_does_not_work_on_another(client, acme, bolt, jane_twice, mailoutbox):
    on_acme, on_bolt = jane_twice
    client.post("/accounts/password/reset/", {"email": "jane@example.com"}, HTTP_HOST=host(bolt))
    [url] = [url for url in links(mailoutbox[-1]) if "/password/reset/key/" in url]
    path = url.split("bolt.localhost", 1)[1]

    response = client.get(path, HTTP_HOST=host(acme), follow=True)
    assert 'name="password1"' not in response.text
    client.post(path, {"password1": "brand-new-password-3", "password2": "brand-new-password-3"}, HTTP_HOST=host(acme))

    on_acme.refresh_from_db()
    on_bolt.refresh_from_db()
    assert on_acme.check_password(PASSWORD)
    assert on_bolt.check_password(OTHER_PASSWORD)


# --- rate limits -----------------------------------------------------------------


def fail_logins(client, http_host, email, times):
    for _ in range(times):
        response = login(client, http_host, email, "wrong-password-123")
        assert response.status_code == 200


def test_repeated_failed_logins_are_refused(client, acme, make_client_user):
    make_client_user(acme, email="jane@example.com")
    fail_logins(client, host(acme), "jane@example.com", 5)

    response = login(client, host(acme), "jane@example.com", PASSWORD)

    assert "Too many failed login attempts" in response.text
    assert logged_in_user_id(client) is None


def test_failed_login_budget_is_shared_by_every_spelling_of_a_portal_host(
    client,
    acme,
    make_client_user,
    verified_domain,
):
    verified_domain(acme, CUSTOM)
    make_client_user(acme, email="jane@example.com")
    fail_logins(client, "acme.localhost", "jane@example.com", 5)

    for http_host in ("ACME.localhost", "acme.localhost:8000", CUSTOM):
        response = login(client, http_host, "jane@example.com", PASSWORD)
        assert "Too many failed login attempts" in response.text
        assert logged_in_user_id(client) is None


def test_failed_logins_on_one_portal_do_not_lock_the_same_email_on_another(client, acme, bolt, jane_twice):
    fail_logins(client, host(acme), "jane@example.com", 5)

    assert login(client, host(bolt), "jane@example.com", OTHER_PASSWORD).status_code == 302
    assert logged_in_user_id(client) == jane_twice[1].pk


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("operator@platform.example", PASSWORD)


def test_admin_login_goes_through_allauth_login(client, operator):
    response = client.get("/admin/login/", HTTP_HOST="localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

    # Django admin's own login form is never processed: no unthrottled way in.
    response = client.post(
        "/admin/login/?next=/admin/", {"username": operator.email, "password": PASSWORD}, HTTP_HOST="localhost"
    )
    assert response.status_code == 302
    assert logged_in_user_id(client) is None

    response = login(client, "localhost", operator.email, PASSWORD, next="/admin/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 200


def test_admin_login_is_rate_limited(client, operator):
    fail_logins(client, "localhost", operator.email, 5)

    response = login(client, "localhost", operator.email, PASSWORD, next="/admin/")

    assert "Too many failed login attempts" in response.text
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 302


def test_a_foreign_session_is_anonymous_for_async_code_too(rf, make_agency, make_client_user):
    import asyncio

    from agencies.middleware import PortalAccountMiddleware

    portal_a, portal_b = make_agency(active=True), make_agency(active=True)
    user_of_a = make_client_user(portal_a)
    request = rf.get("/", HTTP_HOST=f"{portal_b.slug}.localhost")
    request.agency = portal_b
    request.user = user_of_a

    async def auser():
        return user_of_a

    request.auser = auser
    seen = {}
    PortalAccountMiddleware(lambda req: seen.update(user=req.user, auser=asyncio.run(req.auser())))(request)

    assert not seen["user"].is_authenticated
    assert not seen["auser"].is_authenticated

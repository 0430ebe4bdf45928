"""Host routing: which host serves which agency, what everything else gets,
the TLS front end's `ask` endpoint, caching, and the portal's branding."""

import pytest
from django.conf import settings
from django.urls import reverse

from agencies import services
from agencies.models import User
from tests.conftest import PASSWORD, host, seller_details_add

CUSTOM = "calls.acme.example"


@pytest.fixture
def other(make_agency):
    return make_agency(active=True, company_name="Bolt Voice", slug="bolt")


def assert_plain_404(response, *agencies):
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    for agency in agencies:
        assert agency.company_name not in response.text


def test_slug_host_routes_to_its_own_agency(client, acme, other):
    acme_page = client.get("/", HTTP_HOST="acme.localhost")
    bolt_page = client.get("/", HTTP_HOST="bolt.localhost")

    assert acme_page.status_code == 200 and bolt_page.status_code == 200
    assert "Acme Calls" in acme_page.text and "Bolt Voice" not in acme_page.text
    assert "Bolt Voice" in bolt_page.text and "Acme Calls" not in bolt_page.text


@pytest.mark.parametrize("http_host", ["acme.localhost:8000", "ACME.LocalHost", "acme.localhost."])
def test_slug_host_routes_with_port_case_or_trailing_dot(client, acme, http_host):
    response = client.get("/", HTTP_HOST=http_host)
    assert response.status_code == 200
    assert "Acme Calls" in response.text


@pytest.mark.parametrize("http_host", ["localhost", "localhost:8000"])
def test_bare_base_domain_is_the_console(client, acme, http_host):
    response = client.get("/", HTTP_HOST=http_host)
    assert response.status_code == 200
    assert "Start your reseller portal" in response.text
    assert "Acme Calls" not in response.text


@pytest.mark.parametrize(
    "http_host",
    [
        "nosuch.localhost",
        "nosuch.localhost:8000",
        "www.acme.localhost",  # nested subdomain of a real portal
        "a.b.localhost",
        ".localhost",
        "acme..localhost",
        "acme.localhost.evil.example",  # a real slug under someone else's domain
        "evil.example",
        "localhost.evil.example",
        "127.0.0.1",
        "[::1]:8000",
        "bad host",
        "a..b",
        "",
        "acme.localhost:notaport",
        "acme.localhost:80:80",
        "acme.localhost/evil",
        "acme.localhost@evil.example",
        "x" * 300,
        ("a" * 63 + ".") * 200 + "localhost",
        "ａｃｍｅ.localhost",  # full-width letters that NFKC-fold to "acme"
    ],
)
def test_host_we_do_not_serve_gets_plain_404(client, acme, other, http_host):
    for path in ("/", "/accounts/login/", "/admin/login/", "/console/"):
        assert_plain_404(client.get(path, HTTP_HOST=http_host), acme, other)
    assert_plain_404(client.post("/accounts/login/", {"login": "x@example.com", "password": "x"}, HTTP_HOST=http_host))


def test_portal_host_does_not_serve_the_console_or_admin(client, acme):
    assert client.get("/console/", HTTP_HOST=host(acme)).status_code == 404
    assert client.get("/admin/", HTTP_HOST=host(acme)).status_code == 404


# --- inactive portals ---------------------------------------------------------


@pytest.fixture
def paused(make_agency):
    return make_agency(active=False, company_name="Paused Calls", slug="paused")


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"])
def test_inactive_portal_shows_branded_not_available_page(client, paused, path):
    response = client.get(path, HTTP_HOST=host(paused))
    assert response.status_code == 503
    assert "Paused Calls" in response.text
    assert "not available" in response.text
    assert settings.PLATFORM_NAME not in response.text


def test_inactive_portal_refuses_sign_up(client, paused):
    response = client.post(
        "/accounts/signup/",
        {
            "company_name": "Client Co",
            "email": "new@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        HTTP_HOST=host(paused),
    )
    assert response.status_code == 503
    assert not User.objects.filter(email="new@example.com").exists()


def test_inactive_portal_refuses_login(client, paused, make_client_user):
    user = make_client_user(paused, email="jane@example.com")
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}, HTTP_HOST=host(paused))
    assert response.status_code == 503
    assert "_auth_user_id" not in client.session


# --- caching ------------------------------------------------------------------


def test_warm_request_makes_no_query(client, acme, django_assert_num_queries):
    client.get("/", HTTP_HOST=host(acme))
    with django_assert_num_queries(0):
        response = client.get("/", HTTP_HOST=host(acme))
    assert "Acme Calls" in response.text


def test_warm_unknown_host_makes_no_query(client, db, django_assert_num_queries):
    client.get("/", HTTP_HOST="nosuch.localhost")
    with django_assert_num_queries(0):
        assert client.get("/", HTTP_HOST="nosuch.localhost").status_code == 404


@pytest.fixture
def admin_console(console, acme):
    console.force_login(acme.admin)
    return console


def branding_post(console, agency, **changes):
    data = {
        "company_name": agency.company_name,
        "logo_url": "",
        "primary_color": agency.primary_color,
        "accent_color": agency.accent_color,
        "slug": agency.slug,
        **changes,
    }
    response = console.post(reverse("console:branding"), data)
    assert response.status_code == 302, response.content
    return response


def test_slug_change_is_seen_by_the_next_request(
    client,
    admin_console,
    acme,
    django_capture_on_commit_callbacks,
):
    client.get("/", HTTP_HOST="acme.localhost")  # warm the cache for both hosts
    client.get("/", HTTP_HOST="acme-calls.localhost")

    with django_capture_on_commit_callbacks(execute=True):
        branding_post(admin_console, acme, slug="acme-calls")

    assert_plain_404(client.get("/", HTTP_HOST="acme.localhost"))
    assert "Acme Calls" in client.get("/", HTTP_HOST="acme-calls.localhost").text


def test_branding_change_is_seen_by_the_next_request(
    client,
    admin_console,
    acme,
    django_capture_on_commit_callbacks,
):
    client.get("/", HTTP_HOST=host(acme))

    with django_capture_on_commit_callbacks(execute=True):
        branding_post(admin_console, acme, company_name="Acme Voice", primary_color="#FF0000")

    page = client.get("/", HTTP_HOST=host(acme)).text
    assert "Acme Voice" in page
    assert "--brand-primary: #FF0000" in page


def test_deactivation_and_activation_are_seen_by_the_next_request(
    client,
    console,
    keyed_agency,
    django_capture_on_commit_callbacks,
):
    # Set up on a Stripe account (the stand-in): activation asks Stripe before the portal goes live.
    acme = keyed_agency(slug="acme", company_name="Acme Calls")
    services.agency_set_active(agency=acme, active=True)
    seller_details_add(acme)
    admin_console = console
    admin_console.force_login(acme.admin)
    assert client.get("/", HTTP_HOST=host(acme)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        admin_console.post(reverse("stripe_setup:activation"), {"active": "0", "confirm": "1"})
    assert client.get("/", HTTP_HOST=host(acme)).status_code == 503

    with django_capture_on_commit_callbacks(execute=True):
        admin_console.post(reverse("stripe_setup:activation"), {"active": "1", "confirm": "1"})
    assert client.get("/", HTTP_HOST=host(acme)).status_code == 200


def test_domain_change_is_seen_by_the_next_request(
    client,
    admin_console,
    acme,
    verified_domain,
    django_capture_on_commit_callbacks,
):
    verified_domain(acme, CUSTOM)
    assert client.get("/", HTTP_HOST=CUSTOM).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        admin_console.post(reverse("console:domain"), {"custom_domain": "other.acme.example"})

    assert_plain_404(client.get("/", HTTP_HOST=CUSTOM))
    assert client.get("/", HTTP_HOST=host(acme)).status_code == 200


# --- the TLS front end's ask endpoint -------------------------------------------


def tls_allowed(client, domain, http_host="127.0.0.1:8000"):
    return client.get("/internal/tls-allowed", {"domain": domain}, HTTP_HOST=http_host).status_code


def test_tls_allowed_for_active_slug_host(client, acme):
    assert tls_allowed(client, "acme.localhost") == 200


def test_tls_allowed_for_verified_custom_domain(client, acme, verified_domain):
    verified_domain(acme, CUSTOM)
    assert tls_allowed(client, CUSTOM) == 200


def test_tls_refused_for_inactive_slug_host(client, paused):
    assert tls_allowed(client, "paused.localhost") == 404


def test_tls_refused_for_unverified_or_failed_domain(client, acme, dns_server, django_capture_on_commit_callbacks):
    from agencies import services

    with django_capture_on_commit_callbacks(execute=True):
        services.agency_set_domain(agency=acme, domain=CUSTOM)
    assert tls_allowed(client, CUSTOM) == 404
    with django_capture_on_commit_callbacks(execute=True):
        services.agency_check_domain(agency=acme)  # nothing published: fails
    assert tls_allowed(client, CUSTOM) == 404


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "nosuch.localhost",
        "www.acme.localhost",
        "evil.example",
        "www." + CUSTOM,
        "bad host",
        "x" * 1000,
    ],
)
def test_tls_refused_for_hosts_we_do_not_serve(client, acme, verified_domain, domain):
    verified_domain(acme, CUSTOM)
    assert tls_allowed(client, domain) == 404


def test_tls_endpoint_answers_on_any_host(client, acme):
    for http_host in ("localhost", "acme.localhost", "127.0.0.1"):
        assert tls_allowed(client, "acme.localhost", http_host=http_host) == 200
    assert client.get("/internal/tls-allowed", HTTP_HOST="127.0.0.1").status_code == 404


# --- branding -----------------------------------------------------------------


@pytest.fixture
def platform_name(settings):
    settings.PLATFORM_NAME = "Zephyr Platform HQ"
    return settings.PLATFORM_NAME


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
    ],
)
def test_portal_pages_wear_the_agency_brand_not_the_platform(client, make_agency, platform_name, path):
    agency = make_agency(active=True, company_name="Acme Calls")
    response = client.get(path, HTTP_HOST=host(agency))
    assert response.status_code == 200
    assert platform_name not in response.text
    assert "Acme Calls" in response.text
    assert "--brand-primary: #123456" in response.text
    assert "--brand-accent: #ABCDEF" in response.text


def test_client_dashboard_wears_the_agency_brand(client, make_agency, make_client_user, platform_name):
    agency = make_agency(active=True, company_name="Acme Calls")
    client.force_login(make_client_user(agency, company_name="Dental Co"))
    response = client.get("/", HTTP_HOST=host(agency))
    assert "Dental Co" in response.text
    assert "Acme Calls" in response.text
    assert "--brand-primary: #123456" in response.text
    assert platform_name not in response.text


def test_console_wears_the_platform_name(client, platform_name):
    assert platform_name in client.get("/", HTTP_HOST="localhost").text


def _admin_deactivate(client, agency):
    """The operator unticks "active" on the agency's Django admin page."""
    from agencies.models import User

    operator = User.objects.create_superuser(f"root{agency.pk}@example.com", "x-long-password-1")
    admin_client = client.__class__()
    admin_client.force_login(operator)
    form = (
        admin_client.get(f"/admin/agencies/agency/{agency.pk}/change/", HTTP_HOST="localhost").context["adminform"].form
    )
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        created_at_0=agency.created_at.strftime("%Y-%m-%d"), created_at_1=agency.created_at.strftime("%H:%M:%S")
    )
    data.pop("is_active")
    response = admin_client.post(f"/admin/agencies/agency/{agency.pk}/change/", data, HTTP_HOST="localhost")
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_operator_deactivating_in_django_admin_takes_effect_on_next_request(
    client,
    make_agency,
    django_capture_on_commit_callbacks,
):
    agency = make_agency(active=True, slug="adminedit")
    assert client.get("/", HTTP_HOST="adminedit.localhost").status_code == 200  # warms the cache

    with django_capture_on_commit_callbacks(execute=True):
        _admin_deactivate(client, agency)

    assert client.get("/", HTTP_HOST="adminedit.localhost").status_code == 503


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_host_lookup_cached_before_the_operators_edit_commits_is_not_stale_after_it(client, make_agency):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, transaction

    agency = make_agency(active=True, slug="adminrace")

    def another_worker_serves_the_portal():
        try:
            return client.__class__().get("/", HTTP_HOST="adminrace.localhost").status_code
        finally:
            connection.close()

    with transaction.atomic():  # the admin's own transaction commits with this one
        _admin_deactivate(client, agency)
        with ThreadPoolExecutor(1) as pool:
            # Not committed yet: another worker still sees the agency active, and caches it so.
            assert pool.submit(another_worker_serves_the_portal).result(timeout=10) == 200

    assert client.get("/", HTTP_HOST="adminrace.localhost").status_code == 503


# A mid blue takes dark text: white on #3B82F6 is only 3.7:1, below WCAG AA (4.5:1).
@pytest.mark.parametrize("primary, text", [("#FFFF66", "#111827"), ("#0F172A", "#FFFFFF"), ("#3B82F6", "#111827")])
def test_top_bar_text_stays_readable_on_the_agency_colour(client, make_agency, primary, text):
    agency = make_agency(active=True, slug="contrast")
    agency.primary_color = primary
    agency.save(update_fields=["primary_color"])

    page = client.get("/", HTTP_HOST="contrast.localhost").text

    assert f"--brand-primary: {primary}; " in page
    assert f"--brand-on-primary: {text};" in page


@pytest.mark.parametrize("primary, link", [("#FFD700", "#877100"), ("#0F172A", "#0F172A")])
def test_links_in_a_light_brand_colour_are_drawn_in_a_darker_shade_that_reads_on_white(
    client, make_agency, primary, link
):
    agency = make_agency(active=True, slug="contrast")
    agency.primary_color = primary
    agency.save(update_fields=["primary_color"])

    page = client.get("/", HTTP_HOST="contrast.localhost").text

    assert f"--brand-primary-text: {link};" in page


def test_operator_cannot_give_an_agency_a_reserved_slug_in_django_admin(client, make_agency):
    from agencies.models import Agency, User

    agency = make_agency(active=True, slug="honest")
    operator = User.objects.create_superuser("root2@example.com", "x-long-password-1")
    client.force_login(operator)
    url = f"/admin/agencies/agency/{agency.pk}/change/"
    form = client.get(url, HTTP_HOST="localhost").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        slug="platform",
        created_at_0=agency.created_at.strftime("%Y-%m-%d"),
        created_at_1=agency.created_at.strftime("%H:%M:%S"),
        is_active="on",
    )

    response = client.post(url, data, HTTP_HOST="localhost")

    assert response.status_code == 200
    assert "reserved" in str(response.context["adminform"].form.errors["slug"])
    assert Agency.objects.get(pk=agency.pk).slug == "honest"

"""Custom domains: DNS instructions, verification against a real (local) DNS
server, and which hosts route to the portal."""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from agencies import domains
from agencies.models import Agency
from tests.agencies.conftest import publish_records

DOMAIN = "portal.acme-calls.example"


@pytest.fixture
def agency(make_agency):
    return make_agency(active=True, company_name="Acme Calls")


@pytest.fixture
def admin_console(console, agency):
    console.force_login(agency.admin)
    return console


def set_domain(client, domain):
    return client.post(reverse("console:domain"), {"custom_domain": domain})


def refresh(client):
    return client.post(reverse("console:domain_refresh"), follow=True)


def fresh(agency):
    return Agency.objects.get(pk=agency.pk)


def test_domain_page_shows_cname_target_and_txt_record(admin_console, agency):
    response = set_domain(admin_console, DOMAIN)
    assert response.status_code == 302

    page = admin_console.get(reverse("console:domain")).text
    token = fresh(agency).domain_token
    assert len(token) >= 32
    assert settings.PORTAL_CNAME_TARGET in page
    assert f"_portal-verify.{DOMAIN}" in page
    assert token in page
    # Defect 12: a fresh domain is waiting for its records, not a red failure; names are host-only.
    assert 'data-testid="domain-status">Waiting for DNS<' in page
    assert "Failed" not in page
    host = DOMAIN.removesuffix("." + ".".join(DOMAIN.split(".")[-2:]))
    assert f'data-testid="cname-host">{host}<' in page
    assert f'data-testid="txt-host">_portal-verify.{host}<' in page
    assert f'data-copy="{token}"' in page


def test_refresh_verifies_domain_when_cname_and_txt_are_right(admin_console, agency, dns_server):
    set_domain(admin_console, DOMAIN)
    publish_records(dns_server, DOMAIN, fresh(agency).domain_token)

    before = timezone.now()
    response = refresh(admin_console)
    after = timezone.now()

    agency = fresh(agency)
    assert agency.domain_status == Agency.DomainStatus.VERIFIED
    assert before <= agency.domain_checked_at <= after
    assert f"{DOMAIN} is verified" in response.text
    assert "last checked" in response.text
    # Both records were really asked for over DNS.
    assert (DOMAIN, "CNAME") in dns_server.queries
    assert (f"_portal-verify.{DOMAIN}", "TXT") in dns_server.queries


@pytest.mark.parametrize(
    "records, says, does_not_say",
    [
        pytest.param(
            {"CNAME": "elsewhere.example", "TXT": "{token}"},
            ["CNAME", "found elsewhere.example"],
            ["TXT record"],
            id="cname-elsewhere",
        ),
        pytest.param({"CNAME": "{target}"}, ["TXT record"], ["CNAME"], id="txt-missing"),
        pytest.param({"CNAME": "{target}", "TXT": "not-the-token"}, ["TXT record"], ["CNAME"], id="txt-wrong-token"),
        pytest.param({}, ["CNAME", "TXT record"], [], id="nothing-published"),
    ],
)
def test_refresh_fails_and_says_what_is_missing(admin_console, agency, dns_server, records, says, does_not_say):
    set_domain(admin_console, DOMAIN)
    token = fresh(agency).domain_token
    if "CNAME" in records:
        dns_server.set(DOMAIN, "CNAME", records["CNAME"].format(target=settings.PORTAL_CNAME_TARGET))
    if "TXT" in records:
        dns_server.set(f"_portal-verify.{DOMAIN}", "TXT", records["TXT"].format(token=token))

    response = refresh(admin_console)

    agency = fresh(agency)
    assert response.status_code == 200
    assert agency.domain_status == Agency.DomainStatus.FAILED
    assert agency.domain_checked_at is not None
    for text in says:
        assert text in agency.domain_check_message
        assert text in response.text
    for text in does_not_say:
        assert text not in agency.domain_check_message
    # Records not published yet: still waiting; a CNAME pointing elsewhere: failed. Said once either way.
    shown = "Failed" if "found " in agency.domain_check_message else "Waiting for DNS"
    assert f'data-testid="domain-status">{shown}<' in response.text
    assert response.text.count(agency.domain_check_message) == 1


def test_refresh_when_dns_times_out_says_so_and_stays_unverified(admin_console, agency, silent_dns):
    set_domain(admin_console, DOMAIN)

    response = refresh(admin_console)

    agency = fresh(agency)
    assert response.status_code == 200
    assert silent_dns.received >= 1
    assert agency.domain_status == Agency.DomainStatus.PENDING
    assert not agency.domain_verified
    assert agency.domain_checked_at is not None
    assert "did not answer" in agency.domain_check_message
    assert "did not answer" in response.text


def test_dns_outage_does_not_take_a_verified_domain_offline(
    client, admin_console, agency, dns_server, verified_domain, settings
):
    agency = verified_domain(agency, DOMAIN)
    dns_server.servfail.add(DOMAIN)

    response = refresh(admin_console)

    assert "did not answer" in response.text
    assert fresh(agency).domain_status == Agency.DomainStatus.VERIFIED
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 200


def test_refresh_when_nameserver_fails_does_not_claim_records_are_missing(admin_console, agency, dns_server):
    set_domain(admin_console, DOMAIN)
    dns_server.servfail.add(DOMAIN)

    refresh(admin_console)

    agency = fresh(agency)
    assert agency.domain_status == Agency.DomainStatus.PENDING
    assert "did not answer" in agency.domain_check_message
    assert "No CNAME" not in agency.domain_check_message


def test_refresh_with_a_long_wrong_cname_still_reports_and_saves(admin_console, agency, dns_server):
    domain = ".".join(["a" * 60, "b" * 60, "example"])
    wrong_target = ".".join(["c" * 63, "d" * 63, "e" * 63, "example"])
    set_domain(admin_console, domain)
    dns_server.set(domain, "CNAME", wrong_target)

    response = refresh(admin_console)

    agency = fresh(agency)
    assert response.status_code == 200
    assert agency.domain_status == Agency.DomainStatus.FAILED
    assert agency.domain_check_message.startswith(f"No CNAME record pointing to {settings.PORTAL_CNAME_TARGET}")
    # A CNAME pointing elsewhere is for the agency to fix: that is a failure, shown as one.
    assert 'data-testid="domain-status">Failed<' in response.text


def test_check_of_a_domain_too_long_for_the_txt_name_says_so_without_querying(dns_server):
    # The form refuses such domains; the check itself must not send a broken query either.
    domain = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 41, "example"])  # 241 characters: a valid hostname

    result = domains.check(domain, "token")

    assert not result.ok
    assert "too long" in result.message
    assert dns_server.queries == []


def test_refresh_without_a_domain_asks_for_one(admin_console, agency):
    response = refresh(admin_console)
    assert response.status_code == 200
    assert "Add a custom domain first" in response.text


def test_only_a_verified_domain_routes_to_the_portal(
    admin_console,
    client,
    agency,
    dns_server,
    django_capture_on_commit_callbacks,
):
    set_domain(admin_console, DOMAIN)
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 404

    dns_server.set(DOMAIN, "CNAME", settings.PORTAL_CNAME_TARGET)  # TXT still missing
    with django_capture_on_commit_callbacks(execute=True):
        refresh(admin_console)
    assert fresh(agency).domain_status == Agency.DomainStatus.FAILED
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 404

    publish_records(dns_server, DOMAIN, fresh(agency).domain_token)
    with django_capture_on_commit_callbacks(execute=True):
        refresh(admin_console)
    response = client.get("/", HTTP_HOST=DOMAIN)
    assert response.status_code == 200
    assert "Acme Calls" in response.text


def test_changing_the_domain_unbinds_the_old_one(
    admin_console,
    client,
    agency,
    verified_domain,
    django_capture_on_commit_callbacks,
):
    verified_domain(agency, DOMAIN)
    old_token = fresh(agency).domain_token
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        set_domain(admin_console, "calls.acme-new.example")

    agency = fresh(agency)
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 404
    assert agency.custom_domain == "calls.acme-new.example"
    assert agency.domain_status == Agency.DomainStatus.PENDING
    assert agency.domain_checked_at is None
    assert agency.domain_token and agency.domain_token != old_token
    assert client.get("/", HTTP_HOST="calls.acme-new.example").status_code == 404
    page = admin_console.get(reverse("console:domain")).text
    assert agency.domain_token in page
    assert old_token not in page


def test_removing_the_domain_unbinds_it(
    admin_console,
    client,
    agency,
    verified_domain,
    django_capture_on_commit_callbacks,
):
    verified_domain(agency, DOMAIN)
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        set_domain(admin_console, "")

    agency = fresh(agency)
    assert agency.custom_domain is None
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 404
    assert "_portal-verify" not in admin_console.get(reverse("console:domain")).text


def test_setting_the_same_domain_back_needs_a_new_verification(
    admin_console,
    client,
    agency,
    verified_domain,
    dns_server,
    django_capture_on_commit_callbacks,
):
    verified_domain(agency, DOMAIN)
    old_token = fresh(agency).domain_token
    with django_capture_on_commit_callbacks(execute=True):
        set_domain(admin_console, "")
        set_domain(admin_console, DOMAIN)

    agency = fresh(agency)
    assert agency.domain_status == Agency.DomainStatus.PENDING
    assert agency.domain_token != old_token
    assert client.get("/", HTTP_HOST=DOMAIN).status_code == 404
    # The records published for the old token no longer verify it.
    with django_capture_on_commit_callbacks(execute=True):
        refresh(admin_console)
    assert fresh(agency).domain_status == Agency.DomainStatus.FAILED


def test_domain_too_long_for_its_verification_record_is_refused(admin_console, agency):
    label = "a" * 60
    domain = ".".join([label, label, label, "b" * 48, "example"])  # 239 characters
    assert len(domain) == 239

    response = set_domain(admin_console, domain)

    assert response.status_code == 400
    assert "at most 238 characters" in response.text
    assert fresh(agency).custom_domain is None


def test_only_the_first_agency_to_prove_a_domain_gets_it(make_agency, dns_server, verified_domain):
    from agencies import services

    first = verified_domain(make_agency(active=True), DOMAIN)
    second = services.agency_set_domain(agency=make_agency(active=True), domain=DOMAIN)
    publish_records(dns_server, DOMAIN, second.domain_token)  # even with records in place

    checked = services.agency_check_domain(agency=second)

    assert checked.domain_status == Agency.DomainStatus.FAILED
    assert "already verified" in checked.domain_check_message
    assert fresh(first).domain_verified

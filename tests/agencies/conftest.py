import pytest
from django.conf import settings as django_settings

from agencies import domains, services
from tests.dns_standin import DNSStandin, SilentNameserver
from tests.stripe_fixtures import keyed_agency, stripe_account, stripe_base, stripe_standin  # noqa: F401


@pytest.fixture
def acme(make_agency):
    """An active agency whose portal is acme.<base domain>."""
    return make_agency(active=True, company_name="Acme Calls", slug="acme")


@pytest.fixture
def bolt(make_agency):
    """Another active agency (bolt.<base domain>): the other tenant."""
    return make_agency(active=True, company_name="Bolt Voice", slug="bolt")


@pytest.fixture
def dns_server(settings):
    """A local authoritative DNS server the domain checks really query over UDP."""
    server = DNSStandin().start()
    settings.DNS_NAMESERVERS = [server.address]
    settings.DNS_TIMEOUT_SECONDS = 2
    yield server
    server.stop()


@pytest.fixture
def silent_dns(settings):
    """A nameserver that never answers; checks against it time out quickly."""
    server = SilentNameserver().start()
    settings.DNS_NAMESERVERS = [server.address]
    settings.DNS_TIMEOUT_SECONDS = 0.3
    yield server
    server.stop()


def publish_records(server: DNSStandin, domain: str, token: str) -> None:
    """What an agency that followed the console's instructions has in its zone."""
    server.set(domain, "CNAME", django_settings.PORTAL_CNAME_TARGET)
    server.set(domains.txt_name(domain), "TXT", token)


@pytest.fixture
def verified_domain(dns_server, django_capture_on_commit_callbacks):
    """Give `agency` a custom domain verified through a real DNS check."""

    def verify(agency, domain):
        with django_capture_on_commit_callbacks(execute=True):
            agency = services.agency_set_domain(agency=agency, domain=domain)
            publish_records(dns_server, domain, agency.domain_token)
            checked = services.agency_check_domain(agency=agency)
        assert checked.domain_verified, checked.domain_check_message
        checked.admin = getattr(agency, "admin", None)
        return checked

    return verify

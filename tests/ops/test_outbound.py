"""Outbound requests to tenant-typed addresses never reach the portal's own network in production."""

import http.client
import socket
import threading

import pytest

from core import outbound


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x",
        "https://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://localhost/",
        "https://db.internal/",
        "http://0.0.0.0/",
    ],
)
def test_private_addresses_are_refused_when_saved(settings, url):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    assert outbound.url_problem(url) == "Enter an address on the public internet."


@pytest.mark.parametrize(
    "url, problem",
    [
        ("https://hooks.example.com/low-balance", ""),
        ("ftp://hooks.example.com/", "Enter a full http:// or https:// address."),
        ("hooks.example.com", "Enter a full http:// or https:// address."),
        ("https://user:pw@hooks.example.com/", "Leave user names and passwords out of the address."),
    ],
)
def test_public_addresses_pass_and_malformed_ones_get_a_reason(settings, url, problem):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    assert outbound.url_problem(url) == problem


def test_a_name_that_resolves_to_a_private_address_is_refused_after_connecting(settings, receiver):
    """The check runs on the connected socket, so DNS cannot smuggle a private address past it."""
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    connection = outbound._GuardedHTTP("127.0.0.1", receiver.server.server_address[1], timeout=2)
    with pytest.raises(outbound.OutboundError, match="not a public internet address"):
        connection.request("GET", "/")
    assert receiver.requests == []


def test_with_private_hosts_allowed_the_same_connection_goes_through(receiver):
    connection = outbound._GuardedHTTP("127.0.0.1", receiver.server.server_address[1], timeout=2)
    connection.request("GET", "/")
    assert connection.getresponse().status == 200
    assert isinstance(connection, http.client.HTTPConnection)


def test_redirects_are_not_followed_and_big_answers_are_refused(receiver):
    receiver.statuses = [302]
    answer = outbound.request("POST", receiver.url + "/hook", headers={}, body=b"{}", timeout=2, max_bytes=100)
    assert answer.status == 302
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    with pytest.raises(outbound.OutboundError, match="larger than 5 bytes"):
        outbound.request("POST", receiver.url + "/hook", headers={}, body=b"{}", timeout=2, max_bytes=5)


def test_deployment_checks_name_risky_platform_and_outbound_settings(settings):
    from ops import checks

    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = True
    assert [w.id for w in checks.outbound_private_hosts_check(None)] == ["ops.W001"]
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    assert checks.outbound_private_hosts_check(None) == []

    settings.PLATFORM_STRIPE_SECRET_KEY, settings.PLATFORM_STRIPE_PUBLISHABLE_KEY = "sk_live_abc123", "pk_test_abc123"
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = ""
    assert [w.id for w in checks.platform_stripe_check(None)] == ["ops.W002", "ops.W003"]
    settings.PLATFORM_STRIPE_PUBLISHABLE_KEY, settings.PLATFORM_STRIPE_WEBHOOK_SECRET = "pk_live_abc123", "whsec_x"
    assert checks.platform_stripe_check(None) == []


# --- Issue 10: every check sees the host as DNS does; one client serves every tenant-chosen URL ---------


@pytest.mark.parametrize(
    "url",
    [
        "http://a.localhost./",
        "http://localhost./",
        "https://metadata.google.internal./computeMetadata/v1/",
        "https://METADATA.GOOGLE.INTERNAL/",
        "http://printer.local./",
        "http://ｌｏｃａｌｈｏｓｔ/",  # full-width letters: IDNA maps them to "localhost"
        "http://printer。local/",  # the ideographic full stop is a dot to IDNA
        "http://router.home.arpa./",
        "http://127.0.0.1./",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1%25eth0]/",
        "http://0/",
    ],
)
def test_private_names_are_refused_however_they_are_spelt(settings, url):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    assert outbound.url_problem(url) == "Enter an address on the public internet."


@pytest.mark.parametrize(
    "url, problem",
    [
        ("https://hooks.example.com./low-balance", ""),
        ("https://bücher.example/hook", ""),
        ("https://a..b.example/", "Enter a valid host name."),
        ("http://printer.local../", "Enter a valid host name."),
        ("https://" + "x" * 64 + ".example/", "Enter a valid host name."),
        ("https://hooks.example.com:99999/", "Enter a full http:// or https:// address."),
        ("https://[::1/", "Enter a full http:// or https:// address."),
    ],
)
def test_public_names_with_a_trailing_dot_pass_and_broken_hosts_get_a_reason(settings, url, problem):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    assert outbound.url_problem(url) == problem


@pytest.mark.django_db
def test_the_url_forms_refuse_a_private_name_with_a_trailing_dot(settings):
    from agencies.forms import BrandingForm
    from ops.forms import AlertSettingsForm, UsageSourceForm

    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    alert = AlertSettingsForm({"threshold": "10", "webhook_url": "https://metadata.google.internal./x"})
    source = UsageSourceForm({"base_url": "https://a.localhost.", "api_key": "k", "start_date": "2025-01-01"})
    branding = BrandingForm(
        {
            "company_name": "A",
            "logo_url": "https://printer.local./logo.png",
            "primary_color": "#123456",
            "accent_color": "#123456",
            "slug": "abc",
        }
    )
    assert alert.errors["webhook_url"] == ["Enter an address on the public internet."]
    assert source.errors["base_url"] == ["Enter an address on the public internet."]
    assert branding.errors["logo_url"] == ["Enter an address on the public internet."]


class _Listener:
    """A TCP port that accepts and hangs up at once, counting the connections made to it."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # so the thread sees `stopped` (closing a socket does not wake accept())
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.django_db
@pytest.mark.parametrize("allowed, connections", [(True, 1), (False, 0)])
def test_invoice_logos_go_through_the_one_outbound_client_and_its_setting(settings, allowed, connections):
    """The logo fetch used to check addresses its own way and ignore OUTBOUND_ALLOW_PRIVATE_HOSTS."""
    from invoices import logo

    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = allowed
    listener = _Listener()
    try:
        assert logo.logo_fetch(f"https://127.0.0.1:{listener.port}/logo.png") is None  # it hangs up: no logo
    finally:
        listener.close()
    assert listener.connections == connections

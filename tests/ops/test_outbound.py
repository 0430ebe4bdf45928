"""Outbound requests to tenant-typed addresses never reach the portal's own network in production."""

import http.client

import pytest

from core import outbound


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/x", "https://10.1.2.3/", "http://192.168.0.10/", "http://169.254.169.254/latest/meta-data",
    "http://[::1]/", "http://localhost/", "https://db.internal/", "http://0.0.0.0/",
])
def test_private_addresses_are_refused_when_saved(settings, url):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    assert outbound.url_problem(url) == "Enter an address on the public internet."


@pytest.mark.parametrize("url, problem", [
    ("https://hooks.example.com/low-balance", ""),
    ("ftp://hooks.example.com/", "Enter a full http:// or https:// address."),
    ("hooks.example.com", "Enter a full http:// or https:// address."),
    ("https://user:pw@hooks.example.com/", "Leave user names and passwords out of the address."),
])
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

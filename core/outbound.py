"""HTTP requests to addresses that tenants type in: upstream usage APIs, alert webhooks, invoice logos.

The one outbound client and its address guard; every tenant-chosen URL goes
through here. Tenants choose these URLs, so a request must not become a way
into the portal's own network: unless OUTBOUND_ALLOW_PRIVATE_HOSTS is on
(development, tests), the connection is refused when the address actually
connected to is loopback, private, link-local or otherwise not public. The
check runs on the connected socket, after DNS, so a name that resolves
differently later ("DNS rebinding") gains nothing. `url_problem` also refuses
such addresses when a URL is saved, on the host as DNS would see it (lower
case, IDNA, no trailing dot: "metadata.google.internal." is that host).
Redirects are not followed, proxies from the environment are not used, the
answer is capped in size, and every request has a timeout. Errors come out as
OutboundError with a message safe to show the tenant (it never contains a key
or a header).
"""

import http.client
import ipaddress
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "ResellerPortal/1.0"
PUBLIC_ONLY = "Enter an address on the public internet."
# Names that never mean a public host (RFC 6761, 6762, 8375, and cloud metadata under .internal).
_PRIVATE_NAMES = ("localhost", "localdomain", "internal", "local", "home.arpa")
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")  # what inet_aton may read as IPv4: 2130706433, 0x7f.1, 127.1


class OutboundError(Exception):
    """The request failed before an HTTP answer arrived, or the answer was unusable."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def _public_only(sock: socket.socket) -> None:
    if settings.OUTBOUND_ALLOW_PRIVATE_HOSTS:
        return
    address = ipaddress.ip_address(sock.getpeername()[0].split("%", 1)[0])
    if not address.is_global or address.is_multicast:
        sock.close()
        raise OutboundError("the address is not a public internet address")


class _GuardedHTTP(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _public_only(self.sock)


class _GuardedHTTPS(http.client.HTTPSConnection):
    def connect(self) -> None:
        # HTTPSConnection.connect wraps the socket in TLS after the TCP connect; check the peer first.
        http.client.HTTPConnection.connect(self)
        _public_only(self.sock)
        # _tunnel_host and _context are HTTPSConnection's own (what its connect() uses); typeshed omits them.
        if self._tunnel_host:  # type: ignore[attr-defined]
            server_hostname = self._tunnel_host  # type: ignore[attr-defined]
        else:
            server_hostname = self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=server_hostname)  # type: ignore[attr-defined]


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTP, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPS, req)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as the answer


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _HTTPHandler, _HTTPSHandler, _NoRedirect)


def host_normalise(host: str) -> str:
    """The host as DNS looks it up: IDNA-encoded, lower case, without the trailing dot. ValueError if none."""
    try:
        host = host.encode("idna").decode("ascii")  # also maps full-width letters and the ideographic full stop
    except UnicodeError:
        raise ValueError("not a host name") from None
    host = host.lower().rstrip(".")
    if not host:
        raise ValueError("not a host name")
    return host


def host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a normalised host spells, in any form the resolver accepts; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def host_is_private(host: str) -> bool:
    """Whether a normalised host is one we never connect to: a non-public address or a private name."""
    address = host_address(host)
    if address is not None:
        return not address.is_global or address.is_multicast
    return any(host == name or host.endswith("." + name) for name in _PRIVATE_NAMES)


def url_problem(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Why `url` cannot be a target ("" when it can): checked when a tenant saves it, and before each request."""
    try:
        parts = urlsplit(url or "")
        hostname = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return "Enter a full http:// or https:// address."
    if parts.scheme not in schemes or not hostname:
        return "Enter a full http:// or https:// address." if "http" in schemes else "Enter a full https:// address."
    if parts.username or parts.password:
        return "Leave user names and passwords out of the address."
    try:
        host = host_normalise(hostname)
    except ValueError:
        return "Enter a valid host name."
    if not settings.OUTBOUND_ALLOW_PRIVATE_HOSTS and host_is_private(host):
        return PUBLIC_ONLY
    return ""


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
    timeout: float,
    max_bytes: int,
    schemes: tuple[str, ...] = ("http", "https"),
) -> Answer:
    """Send one request; any HTTP status comes back as an Answer, anything else as OutboundError."""
    problem = url_problem(url, schemes=schemes)
    if problem:
        raise OutboundError(problem)
    prepared = urllib.request.Request(url, data=body, method=method, headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _opener.open(prepared, timeout=timeout) as response:
            return Answer(response.status, _read(response, max_bytes))
    except urllib.error.HTTPError as error:
        try:
            content = _read(error, max_bytes)
        except OutboundError:
            content = b""
        return Answer(error.code, content)
    except OutboundError:
        raise
    except TimeoutError:
        raise OutboundError(f"no answer within {timeout:g} seconds") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, OutboundError):
            raise reason from None
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise OutboundError(f"no answer within {timeout:g} seconds") from None
        raise OutboundError(f"could not connect ({_describe(reason)})") from None
    except (OSError, http.client.HTTPException) as error:
        raise OutboundError(f"the connection failed ({_describe(error)})") from None


def _read(response: Any, max_bytes: int) -> bytes:
    content: bytes = response.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise OutboundError(f"the answer is larger than {max_bytes:,} bytes")
    return content


def _describe(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "the host name does not resolve"
    text = getattr(reason, "strerror", None) or type(reason).__name__
    return str(text)[:120]

"""Custom-domain verification over DNS (dnspython).

The agency adds two records: a CNAME from its domain to PORTAL_CNAME_TARGET
(routes traffic here) and a TXT record at _portal-verify.<domain> holding its
token (proves it controls the zone). Both must be in place to verify.
"""

from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
from django.conf import settings

TXT_PREFIX = "_portal-verify"
MESSAGE_MAX_LENGTH = 300


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    # DNS gave no answer at all: says nothing about the records either way.
    inconclusive: bool = False


def txt_name(domain: str) -> str:
    return f"{TXT_PREFIX}.{domain}"


def _nameserver(spec: str) -> dns.nameserver.Do53Nameserver:
    """A nameserver from "ip", "ip:port", a bare IPv6 address or "[ipv6]:port"."""
    host, port = spec.strip(), 53
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        port = int(port_text)
    return dns.nameserver.Do53Nameserver(host, port)


def resolver() -> dns.resolver.Resolver:
    if not settings.DNS_NAMESERVERS:
        res = dns.resolver.Resolver()
    else:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [_nameserver(server) for server in settings.DNS_NAMESERVERS]
    res.lifetime = settings.DNS_TIMEOUT_SECONDS
    res.timeout = settings.DNS_TIMEOUT_SECONDS
    return res


def _answers(res, name: str, rdtype: str) -> list[str] | None:
    """Record texts, [] when the name has none, None when DNS could not answer."""
    try:
        answer = res.resolve(name, rdtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return []
    except dns.exception.DNSException:
        # Timeouts, and NoNameservers (every server answered SERVFAIL or
        # REFUSED): DNS said nothing about the records, so we can't either.
        return None
    if rdtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    return [r.to_text().lower().rstrip(".") for r in answer]


def _fit(message: str) -> str:
    # The message is stored (Agency.domain_check_message, 300 characters) and a
    # found CNAME can be a long name: never let it overflow the column.
    return message if len(message) <= MESSAGE_MAX_LENGTH else message[: MESSAGE_MAX_LENGTH - 1] + "…"


def check(domain: str, token: str) -> CheckResult:
    try:
        dns.name.from_text(txt_name(domain))
    except dns.exception.DNSException:
        # A hostname near the 253-character limit leaves no room for the prefix.
        return CheckResult(False, f"This domain is too long for the {TXT_PREFIX} TXT record. Use a shorter one.")
    res = resolver()
    target = settings.PORTAL_CNAME_TARGET.rstrip(".")
    cnames = _answers(res, domain, "CNAME")
    # When the first lookup got no answer the second rarely does: don't make
    # the admin wait for a second timeout.
    txts = _answers(res, txt_name(domain), "TXT") if cnames is not None else None
    if cnames is None or txts is None:
        return CheckResult(
            False,
            "DNS did not answer (timed out or refused). Try again in a few minutes.",
            inconclusive=True,
        )
    problems = []
    if target not in cnames:
        found = f" (found {', '.join(cnames)})" if cnames else ""
        problems.append(f"No CNAME record pointing to {target}{found}.")
    if token not in txts:
        problems.append(f"No TXT record at {TXT_PREFIX} with the verification token.")
    if problems:
        return CheckResult(False, _fit(" ".join(problems) + " DNS changes can take up to 48 hours to propagate."))
    return CheckResult(True, "CNAME and TXT records found.")


def status_shown(*, verified: bool, status: str, message: str) -> tuple[str, str]:
    """(label, badge class) for the domain page.

    Records not published yet are the normal state of a fresh domain, not a
    failure: "Waiting for DNS". "Failed" (red) is for what the agency must
    change: a CNAME pointing elsewhere, a domain another portal verified, one
    too long for its TXT record.
    """
    if verified:
        return "Verified", "ok"
    wrong = "(found " in message or "already verified" in message or "too long" in message
    if status == "failed" and wrong:
        return "Failed", "bad"
    return "Waiting for DNS", "pending"


def host_only(name: str, domain: str) -> str:
    """The record's name as DNS providers ask for it: relative to the zone ("@" for the zone itself).

    The zone is taken to be the domain's last two labels, which is right for
    most domains; the page shows the full name beside it for the rest (co.uk).
    """
    zone = ".".join(domain.split(".")[-2:])
    if name == zone:
        return "@"
    return name.removesuffix("." + zone)

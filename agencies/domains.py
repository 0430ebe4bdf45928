"""Custom-domain verification over DNS (dnspython).

The agency adds two records: a CNAME from its domain to PORTAL_CNAME_TARGET
(routes traffic here) and a TXT record at _portal-verify.<domain> holding its
token (proves it controls the zone). Both must be in place to verify.
"""

from dataclasses import dataclass

import dns.exception
import dns.resolver
from django.conf import settings

TXT_PREFIX = "_portal-verify"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def txt_name(domain: str) -> str:
    return f"{TXT_PREFIX}.{domain}"


def resolver() -> dns.resolver.Resolver:
    if not settings.DNS_NAMESERVERS:
        res = dns.resolver.Resolver()
    else:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = []
        for server in settings.DNS_NAMESERVERS:
            host, _, port = server.partition(":")
            res.nameservers.append(host)
            if port:
                res.nameserver_ports[host] = int(port)
    res.lifetime = settings.DNS_TIMEOUT_SECONDS
    res.timeout = settings.DNS_TIMEOUT_SECONDS
    return res


def _answers(res, name: str, rdtype: str) -> list[str] | None:
    """Record texts, [] when the name has none, None when DNS could not answer."""
    try:
        answer = res.resolve(name, rdtype, raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
        return []
    except (dns.exception.Timeout, dns.resolver.NoAnswer, dns.exception.DNSException):
        return None
    if rdtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    return [r.to_text().lower().rstrip(".") for r in answer]


def check(domain: str, token: str) -> CheckResult:
    res = resolver()
    target = settings.PORTAL_CNAME_TARGET.rstrip(".")
    cnames = _answers(res, domain, "CNAME")
    txts = _answers(res, txt_name(domain), "TXT")
    if cnames is None or txts is None:
        return CheckResult(False, "DNS did not answer in time. Try again in a few minutes.")
    problems = []
    if target not in cnames:
        found = f" (found {', '.join(cnames)})" if cnames else ""
        problems.append(f"CNAME {domain} → {target} not found{found}.")
    if token not in txts:
        problems.append(f"TXT record at {txt_name(domain)} with the verification token not found.")
    if problems:
        return CheckResult(False, " ".join(problems) + " DNS changes can take up to 48 hours to propagate.")
    return CheckResult(True, "CNAME and TXT records found.")

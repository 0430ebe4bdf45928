"""Host -> agency resolution and the portal's canonical URLs.

A request's host is the console (the bare PORTAL_BASE_DOMAIN), an agency's
portal (<slug>.<base> or its verified custom domain), or nothing we serve.
Lookups are cached (shared cache in production) and invalidated on every save
that can change the answer, so a warm request makes no tenant query.
"""

import hashlib
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.http.request import split_domain_port

from .models import Agency

CONSOLE = "console"
_MISSING = "missing"  # cached negative answer: this host is not ours
MAX_HOST_LENGTH = 253


def normalize_host(raw_host: str) -> str:
    domain, _port = split_domain_port(raw_host or "")
    return domain.lower().rstrip(".")


def _cache_key(host: str) -> str:
    # Hashed: a hostname may be up to 253 characters, more than some caches take.
    return "tenant:host:" + hashlib.blake2b(host.encode(), digest_size=16).hexdigest()


def slug_host(slug: str) -> str:
    return f"{slug}.{settings.PORTAL_BASE_DOMAIN}"


def is_console_host(host: str) -> bool:
    return host == settings.PORTAL_BASE_DOMAIN


def _lookup(host: str) -> Agency | None:
    # Secrets stay out of the cache: they load on demand, from the database.
    agencies = Agency.objects.defer("stripe_secret_key", "stripe_webhook_secret")
    suffix = "." + settings.PORTAL_BASE_DOMAIN
    if host.endswith(suffix):
        slug = host[: -len(suffix)]
        if "." in slug:
            return None
        return agencies.filter(slug=slug).first()
    return agencies.filter(custom_domain=host, domain_status=Agency.DomainStatus.VERIFIED).first()


def agency_for_host(host: str) -> Agency | None:
    """The agency whose portal answers on `host` (active or not), or None."""
    if not host or len(host) > MAX_HOST_LENGTH:
        return None  # no such hostname in DNS: neither a query nor a cache entry
    cached = cache.get(_cache_key(host))
    if cached == _MISSING:
        return None
    if cached is not None:
        return cast(Agency, cached)  # the cache holds an Agency or _MISSING
    agency = _lookup(host)
    cache.set(_cache_key(host), agency if agency else _MISSING, settings.TENANT_CACHE_SECONDS)
    return agency


def agency_hosts(agency: Agency) -> set[str]:
    hosts = set()
    if agency.slug:
        hosts.add(slug_host(agency.slug))
    if agency.custom_domain:
        hosts.add(agency.custom_domain)
    return hosts


def forget_hosts(hosts: set[str]) -> None:
    cache.delete_many([_cache_key(host) for host in hosts])


def _origin(host: str) -> str:
    port = f":{settings.PORTAL_PUBLIC_PORT}" if settings.PORTAL_PUBLIC_PORT else ""
    return f"{settings.PORTAL_SCHEME}://{host}{port}"


def console_url(path: str = "/") -> str:
    return _origin(settings.PORTAL_BASE_DOMAIN) + path


def slug_url(slug: str, path: str = "/") -> str:
    """The URL a portal slug gives, with this deployment's scheme and port."""
    return _origin(slug_host(slug)) + path


def portal_url(agency: Agency, path: str = "/") -> str:
    """The agency's canonical portal URL: its verified domain, else its subdomain."""
    host = agency.custom_domain if agency.domain_verified and agency.custom_domain else slug_host(str(agency.slug))
    return _origin(host) + path


def tls_allowed(domain: str) -> bool:
    """Whether a TLS front end may obtain a certificate for `domain`."""
    host = normalize_host(domain)
    if is_console_host(host):
        return True
    agency = agency_for_host(host)
    if agency is None:
        return False
    if host == agency.custom_domain:
        return agency.domain_verified
    return agency.is_active

"""Validation of the values an agency types into its settings."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError

from .models import COLOR_PATTERN, SLUG_PATTERN

RESERVED_SLUGS = frozenset(
    """
    www api admin app apps console platform static media mail email smtp imap pop ftp
    portal portals dashboard billing status help support docs blog assets cdn auth login
    signup account accounts internal webhooks webhook stripe ns ns1 ns2 mx dev test staging
    root system cname connect
    """.split()
)

# The TXT record lives at _portal-verify.<domain>, which DNS caps at 253 characters.
MAX_CUSTOM_DOMAIN_LENGTH = 253 - len("_portal-verify.")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def validate_color(value: str) -> None:
    if not re.fullmatch(COLOR_PATTERN, value or ""):
        raise ValidationError("Enter a colour as #RRGGBB, for example #3B82F6.")


def validate_slug(value: str) -> None:
    if not 3 <= len(value) <= 50:
        raise ValidationError("The slug must be 3 to 50 characters long.")
    if not re.fullmatch(r"[a-z0-9-]+", value):
        raise ValidationError("Use only lowercase letters, digits and hyphens.")
    if value.startswith("-") or value.endswith("-"):
        raise ValidationError("The slug cannot start or end with a hyphen.")
    if not re.fullmatch(SLUG_PATTERN, value):
        raise ValidationError("Enter a valid slug.")
    if value in RESERVED_SLUGS:
        raise ValidationError(f"“{value}” is reserved. Choose another slug.")


def normalize_hostname(value: str) -> str:
    """Lowercase, drop a trailing dot, encode IDN labels as punycode; raise if invalid."""
    host = (value or "").strip().lower().rstrip(".")
    if host.startswith(("http://", "https://")) or "/" in host or ":" in host:
        raise ValidationError("Enter a bare hostname such as portal.example.com, without http:// or a path.")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError("Enter a valid hostname such as portal.example.com.") from None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValidationError("Enter a valid hostname such as portal.example.com.")
    if len(host) > MAX_CUSTOM_DOMAIN_LENGTH:
        raise ValidationError(
            f"Use a domain of at most {MAX_CUSTOM_DOMAIN_LENGTH} characters: the verification record needs room."
        )
    if labels[-1].isdigit():
        raise ValidationError("Enter a hostname, not an IP address.")
    base = settings.PORTAL_BASE_DOMAIN
    if host == base or host.endswith("." + base):
        raise ValidationError(f"Use the portal slug for addresses under {base}; a custom domain must be your own.")
    return host


def validate_publishable_key(value: str) -> None:
    if not re.fullmatch(r"pk_(test|live)_[A-Za-z0-9]{8,}", value):
        raise ValidationError("A publishable key starts with pk_test_ or pk_live_.")


def validate_secret_key(value: str) -> None:
    if not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9]{8,}", value):
        raise ValidationError("A secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_.")


def validate_product_id(value: str) -> None:
    if not re.fullmatch(r"prod_[A-Za-z0-9]{4,}", value):
        raise ValidationError("A product ID starts with prod_.")


def validate_price_id(value: str) -> None:
    if not re.fullmatch(r"price_[A-Za-z0-9]{4,}", value):
        raise ValidationError("A price ID starts with price_.")


def validate_webhook_secret(value: str) -> None:
    if not re.fullmatch(r"whsec_[A-Za-z0-9+/=]{8,}", value):
        raise ValidationError("A webhook signing secret starts with whsec_.")

"""Reading settings from the environment, strictly: a value the portal does not understand stops the process.

A typo must not quietly pick the other branch (`PORTAL_HTTPS=ture` would turn off
HTTPS redirects, secure cookies and HSTS), so each helper raises
ImproperlyConfigured naming the variable and what it accepts. Unset or empty
means the default.
"""

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value: use one of {', '.join(TRUE)} (on) or {', '.join(FALSE)} (off), "
        "or leave it unset for the default."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a whole number: use digits such as {default}, or leave it unset for {default}."
        ) from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} is too small: use a whole number of at least {minimum}.")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_rates(name: str, default: str = "") -> dict[str, Decimal]:
    """ "USD=0.92,GBP=1.17" -> {"USD": Decimal("0.92"), ...}: currency codes upper-cased, rates positive."""
    rates = {}
    for pair in env_list(name, default):
        code, _, rate = pair.partition("=")
        try:
            value = Decimal(rate.strip())
        except InvalidOperation:
            value = None
        if not code.strip() or value is None or not value.is_finite() or value <= 0:
            raise ImproperlyConfigured(
                f"{name} has {pair!r}: write CODE=RATE pairs with a positive decimal rate, comma separated, "
                "e.g. USD=0.92,GBP=1.17."
            )
        rates[code.strip().upper()] = value
    return rates

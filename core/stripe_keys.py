"""Which mode a Stripe API key belongs to: the one reading of a key's prefix."""

from typing import Literal

Mode = Literal["live", "test"]


def key_mode(key: str | None) -> Mode:
    """'live' for sk_live_/rk_live_/pk_live_ keys, else 'test' (an empty or missing key included)."""
    return "live" if "_live_" in (key or "") else "test"


def is_live_key(key: str | None) -> bool:
    return key_mode(key) == "live"

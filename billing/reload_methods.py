"""The saved payment methods auto-reload may charge: the account's own, as billing.payment_methods lists them."""

from dataclasses import dataclass

from agencies.models import Agency, Organization


@dataclass(frozen=True)
class Method:
    id: str
    label: str  # "Visa •••• 4242, expires 12/2030"
    default: bool = False


def methods_list(*, agency: Agency, organization: Organization | None) -> list[Method] | None:
    """The account's saved payment methods; None when they cannot be listed (then nothing is checked here,
    and a method that is not the account's fails when charged)."""
    return None

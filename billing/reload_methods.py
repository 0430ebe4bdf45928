"""The saved payment methods auto-reload may charge: the account's own, as billing.payment_methods lists them."""

from dataclasses import dataclass

from agencies.models import Agency, Organization

from . import payment_methods, stripe_api


@dataclass(frozen=True)
class Method:
    id: str
    label: str  # "Visa ending 4242, expires 12/2030"
    default: bool = False


def methods_list(*, agency: Agency, organization: Organization | None) -> list[Method]:
    """The account's saved payment methods. Raises stripe_api.StripeUnavailable / StripeRejected."""
    saved = payment_methods.methods_list(agency=agency, organization=organization)
    return [
        Method(
            m.id,
            m.label + (f", expires {m.exp_month:02d}/{m.exp_year}" if m.exp_month and m.exp_year else ""),
            m.default,
        )
        for m in saved
    ]


def methods_or_none(*, agency: Agency, organization: Organization | None) -> list[Method] | None:
    """methods_list, or None when Stripe cannot list them now (unreachable, or the account is not set up)."""
    try:
        return methods_list(agency=agency, organization=organization)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        return None

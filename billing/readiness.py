"""Go-live readiness: the steps from sign-up to a portal's first sale, and which of them block activation.

One place answers "can this portal go live, and what is left?": the console
overview shows the steps, activation (billing.setup_views) refuses while a hard
one is open. The steps read what the agency has stored — agencies'
activation_missing (branding, slug, packages, Stripe configured), the last
Check Stripe, the seller details invoices print, the minutes it holds — and ask
nobody: the overview stays fast and Stripe is asked only when the agency presses
"Activate portal" (stripe_check) or "Check Stripe".
"""

from dataclasses import dataclass

from django.urls import reverse

from agencies import services as agency_services
from agencies.models import Agency
from invoices import selectors as invoice_selectors

from .accounts import is_connected


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    # Hard steps block activation; soft ones only warn.
    hard: bool
    detail: str
    url: str
    link_text: str


@dataclass(frozen=True)
class Readiness:
    steps: list[Step]

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def blocking(self) -> list[Step]:
        return [step for step in self.steps if step.hard and not step.done]

    @property
    def warnings(self) -> list[Step]:
        return [step for step in self.steps if not step.hard and not step.done]

    @property
    def can_go_live(self) -> bool:
        return not self.blocking


def _stripe_step(agency: Agency, missing: list[str]) -> Step:
    stripe_missing = [item for item in missing if "Stripe" in item]
    problems = list(agency.stripe_check_problems or [])
    if stripe_missing:
        detail = "Missing: " + ", ".join(stripe_missing) + "."
    elif problems:
        detail = f"The last Check Stripe found {len(problems)} problem{'s' if len(problems) > 1 else ''}."
    elif agency.stripe_checked_at is None:
        detail = "Set up; Stripe is checked again when you activate the portal."
    else:
        how = "Connected to Stripe" if is_connected(agency) else "Your Stripe key is set up"
        detail = f"{how}; the last Check Stripe found nothing wrong."
    return Step(
        "stripe",
        "Stripe takes your clients' payments",
        not stripe_missing and not problems,
        True,
        detail,
        reverse("stripe_setup:stripe"),
        "Stripe",
    )


def _seller_step(agency: Agency) -> Step:
    seller = invoice_selectors.seller_of(agency=agency)
    if seller is None:
        detail = "Your invoices need your legal name, address and country (and VAT ID where you are registered)."
    else:
        vat = f", VAT ID {seller.vat_id}" if seller.vat_id else ", no VAT ID"
        detail = f"{seller.company_name}, {seller.country}{vat}."
    return Step(
        "seller",
        "Seller details for your invoices",
        seller is not None,
        True,
        detail,
        reverse("console_invoices:seller"),
        "Seller details",
    )


def readiness(agency: Agency) -> Readiness:
    """The go-live checklist, in the order an agency works through it."""
    missing = agency_services.activation_missing(agency)
    has_packages = "At least one credit package" not in missing
    branding_done = bool(agency.company_name)
    colours = f"colours {agency.primary_color} / {agency.accent_color}"
    logo = "with a logo" if agency.logo_url else "no logo (optional)"
    steps = [
        Step(
            "branding",
            "Brand your portal",
            branding_done,
            True,
            f"{agency.company_name or 'No company name yet'}; {colours}; {logo}.",
            reverse("console:branding"),
            "Branding",
        ),
        Step(
            "slug",
            "Choose the portal's address",
            bool(agency.slug),
            True,
            f"Portal slug: {agency.slug}." if agency.slug else "Pick the slug your portal's address is built from.",
            reverse("console:branding"),
            "Branding",
        ),
        Step(
            "packages",
            "Offer at least one credit package",
            has_packages,
            True,
            "Packages are on sale." if has_packages else "Clients can only buy the packages you offer.",
            reverse("console:packages"),
            "Packages",
        ),
        _stripe_step(agency, missing),
        _seller_step(agency),
        Step(
            "minutes",
            "Hold call minutes",
            agency.minutes_balance > 0,
            False,
            f"You hold {agency.minutes_balance:,} minutes."
            if agency.minutes_balance > 0
            else "You hold 0 minutes: your clients' calls are refused until you buy minutes.",
            reverse("console_billing:minutes"),
            "Buy minutes",
        ),
    ]
    return Readiness(steps)


def activation_blockers(agency: Agency) -> list[str]:
    """What must be done before the portal may go live, as the labels activation reports."""
    missing = agency_services.activation_missing(agency)
    if invoice_selectors.seller_of(agency=agency) is None:
        missing.append("Seller details for your invoices (legal name, address, country)")
    return missing

"""One key, and the portal does the rest: what the portal creates on an agency's Stripe account.

stripe_provision makes the agency's Stripe account hold what the portal needs
and nothing typed by hand: one Product for the portal, one one-time Price per
credit package on sale, and (for an agency on its own key, not connected) a
webhook endpoint at the agency's URL listening to exactly WEBHOOK_EVENTS, whose
signing secret Stripe shows once, on creation, and the portal stores.

It is idempotent through the portal's own metadata on Stripe's objects
({"portal_agency": "<pk>", "portal_package": "<pk>"}): each run lists what is
there and matches it first, so a second run finds what the first made and
creates nothing; creates carry idempotency keys derived from the agency, the
Stripe account and the package. A package whose amount changed gets a new
Price and the old one is archived (Stripe Prices are immutable), as are the
Prices of packages taken off sale.

stripe_key_set is the Stripe page's "Use your own key": it checks the key
(format, mode against the portal's, which account, not another account than
the connected one), provisions with it, and only then stores it, so a key that
cannot work never replaces one that does.
"""

import hashlib
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from agencies import services as agency_services, tenancy, validators
from agencies.audit import audit_record, changes_between, snapshot
from agencies.models import Agency, CreditPackage
from core.money import money_format
from core.stripe_keys import Mode, key_mode

from . import accounts, stripe_api
from .accounts import is_connected
from .stripe_api import StripeAccount, StripeRejected, StripeUnavailable

META_AGENCY = "portal_agency"
META_PACKAGE = "portal_package"


@dataclass(frozen=True)
class KeyPermission:
    """One permission of a restricted key, as Stripe's dashboard names it, and why the portal needs it."""

    resource: str  # "Prices" (Stripe → Developers → API keys → restricted key)
    access: str  # "Write" or "Read"
    code: str  # the stand-in's name for it ("prices:write")
    why: str


# Exactly what a restricted key needs: derived from the calls the portal makes
# (billing.stripe_api). Shown on the Stripe page; the messages below name them.
KEY_PERMISSIONS = [
    KeyPermission("Products", "Write", "products:write", "the portal's product"),
    KeyPermission("Prices", "Write", "prices:write", "one price per credit package"),
    KeyPermission("Checkout Sessions", "Write", "checkout_sessions:write", "your clients pay through Checkout"),
    KeyPermission("Customers", "Write", "customers:write", "your clients' billing details and VAT IDs"),
    KeyPermission("Webhook Endpoints", "Write", "webhook_endpoints:write", "Stripe tells the portal about payments"),
    KeyPermission("Charges", "Read", "charges:read", "refunds and disputes"),
    KeyPermission("PaymentIntents", "Read", "payment_intents:read", "refunds and disputes"),
    KeyPermission("Refunds", "Write", "refunds:write", "refunds from the console"),
    KeyPermission("Disputes", "Read", "disputes:read", "disputes hold credits until they close"),
    KeyPermission("Events", "Read", "events:read", "no payment is missed when a webhook is lost"),
]
_BY_RESOURCE = {p.resource: p for p in KEY_PERMISSIONS}

# stripe_api's operation names -> (what the key did, the resource it needs).
_OPERATIONS = {
    "products list": ("read", "Products"),
    "product retrieve": ("read", "Products"),
    "product create": ("write", "Products"),
    "product update": ("write", "Products"),
    "prices list": ("read", "Prices"),
    "price retrieve": ("read", "Prices"),
    "price create": ("write", "Prices"),
    "price update": ("write", "Prices"),
    "webhook endpoints list": ("read", "Webhook Endpoints"),
    "webhook endpoint retrieve": ("read", "Webhook Endpoints"),
    "webhook endpoint create": ("write", "Webhook Endpoints"),
    "webhook endpoint update": ("write", "Webhook Endpoints"),
    "webhook endpoint delete": ("write", "Webhook Endpoints"),
    "session create": ("write", "Checkout Sessions"),
    "session retrieve": ("read", "Checkout Sessions"),
    "customer sync": ("write", "Customers"),
    "charge retrieve": ("read", "Charges"),
    "payment intent retrieve": ("read", "PaymentIntents"),
    "dispute retrieve": ("read", "Disputes"),
    "refund create": ("write", "Refunds"),
    "events list": ("read", "Events"),
}


class ProvisionError(Exception):
    """Provisioning could not be done; the message says why and what to do, in one or two sentences."""


def portal_mode() -> Mode:
    """The portal takes live keys when the platform's own key is live (PLATFORM_STRIPE_SECRET_KEY), else test keys."""
    return key_mode(settings.PLATFORM_STRIPE_SECRET_KEY)


def rejected_message(exc: StripeRejected, *, mode: str) -> str:
    """Stripe's refusal in one plain sentence with the fix; a restricted key's missing permission by name."""
    if exc.kind == "auth":
        return (
            f"Stripe refused this key: it was mistyped, rolled or deleted. Copy the {mode} secret key "
            "(or a restricted key) again from Stripe → Developers → API keys."
        )
    if exc.kind == "permission":
        verb, resource = _OPERATIONS.get(exc.operation, ("use", ""))
        if resource:
            needed = _BY_RESOURCE[resource].access
            return (
                f"This restricted key may not {verb} {resource}: in Stripe → Developers → API keys, "
                f"edit the key and set {resource} to {needed}."
            )
        return "This restricted key may not do what the portal needs: give it the permissions listed on this page."
    return f"Stripe refused a request ({exc.operation or 'setup'}): {exc.detail or 'no reason given'}."


def webhook_url(agency: Agency) -> str:
    return tenancy.console_url(
        reverse("api:stripe_webhook", kwargs={"slug": agency.slug}, urlconf=settings.ROOT_URLCONF)
    )


def account_display_name(stripe_account) -> str:
    """What Stripe calls the account: its business name, dashboard name or email, else its id."""
    data = stripe_account.to_dict()
    return (
        (data.get("business_profile") or {}).get("name")
        or ((data.get("settings") or {}).get("dashboard") or {}).get("display_name")
        or data.get("email")
        or data["id"]
    )


@dataclass
class ProvisionReport:
    """What a run did, in words, and what the portal stores from it."""

    account_id: str = ""
    account_name: str = ""
    product_id: str = ""
    prices: dict[int, str] = field(default_factory=dict)  # package pk -> price id
    webhook_endpoint_id: str = ""
    webhook_secret: str = ""  # set only when an endpoint was created (Stripe shows it once)
    created: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # archived, reactivated, updated, removed
    moved: str = ""

    @property
    def created_nothing(self) -> bool:
        return not self.created

    def sentences(self) -> list[str]:
        lines = [f"Stripe account: {self.account_name} ({self.account_id})."]
        if self.moved:
            lines.append(self.moved)
        if self.created:
            lines.append("Created " + "; ".join(self.created) + ".")
        if self.changed:
            lines.append("Changed " + "; ".join(self.changed) + ".")
        if self.found:
            lines.append("Already in place: " + "; ".join(self.found) + ".")
        return lines


def _package_name(package: CreditPackage) -> str:
    return f"{package.credits:,} credits for {money_format(package.price_cents, package.currency)}"


def _idempotency(*parts) -> str:
    return "portal-setup-" + hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _metadata(obj) -> dict:
    metadata = getattr(obj, "metadata", None)
    return metadata.to_dict() if metadata is not None and hasattr(metadata, "to_dict") else dict(metadata or {})


def _product(agency: Agency, account: StripeAccount, report: ProvisionReport):
    ours = [p for p in stripe_api.products_list(account=account) if _metadata(p).get(META_AGENCY) == str(agency.pk)]
    # The one stored first, then an active one: a second run finds what the first made.
    ours.sort(key=lambda p: (p.id != agency.stripe_product_id, not p.active, p.created))
    if not ours:
        product = stripe_api.product_create(
            account=account,
            # The stored id is in the key: a product deleted in Stripe is made anew, not replayed.
            idempotency_key=_idempotency("product", agency.pk, report.account_id, agency.stripe_product_id),
            params={"name": f"{agency.company_name} credits", "metadata": {META_AGENCY: str(agency.pk)}},
        )
        report.created.append(f"the product {product.id}")
        return product
    product = ours[0]
    if not product.active:
        product = stripe_api.product_update(account=account, product_id=product.id, params={"active": True})
        report.changed.append(f"reactivated the product {product.id}")
    else:
        report.found.append(f"the product {product.id}")
    return product


def _prices(agency: Agency, account: StripeAccount, product, report: ProvisionReport) -> None:
    ours = [
        p
        for p in stripe_api.prices_list(account=account, product_id=product.id)
        if _metadata(p).get(META_AGENCY) == str(agency.pk) and _metadata(p).get(META_PACKAGE)
    ]
    created, found = [], []
    for package in agency.packages.on_sale().order_by("pk"):
        fits = [
            p
            for p in ours
            if _metadata(p)[META_PACKAGE] == str(package.pk)
            and p.unit_amount == package.price_cents
            and p.currency == package.currency.lower()
            and p.type == "one_time"
        ]
        fits.sort(key=lambda p: (not p.active, p.id != package.stripe_price_id))
        if not fits:
            price = stripe_api.price_create(
                account=account,
                idempotency_key=_idempotency(
                    "price", agency.pk, report.account_id, package.pk, package.currency, package.price_cents
                ),
                params={
                    "product": product.id,
                    "currency": package.currency.lower(),
                    "unit_amount": package.price_cents,
                    "nickname": _package_name(package),
                    "metadata": {META_AGENCY: str(agency.pk), META_PACKAGE: str(package.pk)},
                },
            )
            created.append(f"{price.id} ({_package_name(package)})")
        elif not fits[0].active:
            price = stripe_api.price_update(account=account, price_id=fits[0].id, params={"active": True})
            report.changed.append(f"reactivated the price {price.id} ({_package_name(package)})")
        else:
            price = fits[0]
            found.append(price.id)
        report.prices[package.pk] = price.id
    if created:
        report.created.append(f"{len(created)} price{'s' if len(created) > 1 else ''}: " + ", ".join(created))
    if found:
        report.found.append(f"{len(found)} price{'s' if len(found) > 1 else ''}")
    keep = set(report.prices.values())
    for price in ours:
        if price.active and price.id not in keep:
            stripe_api.price_update(account=account, price_id=price.id, params={"active": False})
            report.changed.append(f"archived the price {price.id}, which no package on sale costs any more")


def _webhook(agency: Agency, account: StripeAccount, report: ProvisionReport) -> None:
    url = webhook_url(agency)
    endpoints = stripe_api.webhook_endpoints_list(account=account)
    stored = agency.stripe_webhook_endpoint_id
    # Reused only when it is the one we registered and we hold its secret (Stripe never shows it again).
    ours = next((e for e in endpoints if stored and e.id == stored), None) if agency.stripe_webhook_secret else None
    if ours is not None:
        fixes: dict = {}
        if ours.url != url:
            fixes["url"] = url
        if sorted(ours.enabled_events) != sorted(stripe_api.WEBHOOK_EVENTS):
            fixes["enabled_events"] = stripe_api.WEBHOOK_EVENTS
        if ours.status != "enabled":
            fixes["disabled"] = False
        if fixes:
            stripe_api.webhook_endpoint_update(account=account, endpoint_id=ours.id, params=fixes)
            report.changed.append(f"updated the webhook endpoint {ours.id} ({', '.join(sorted(fixes))})")
        else:
            report.found.append(f"the webhook endpoint {ours.id}")
        report.webhook_endpoint_id = ours.id
        return
    removed = []
    for endpoint in endpoints:
        if _metadata(endpoint).get(META_AGENCY) == str(agency.pk) or endpoint.url == url:
            stripe_api.webhook_endpoint_delete(account=account, endpoint_id=endpoint.id)
            removed.append(endpoint.id)
    if removed:
        report.changed.append(f"removed the webhook endpoint {', '.join(removed)} whose signing secret was unknown")
    created = stripe_api.webhook_endpoint_create(
        account=account,
        idempotency_key=_idempotency("webhook", agency.pk, report.account_id, stored, *sorted(removed)),
        params={
            "url": url,
            "enabled_events": stripe_api.WEBHOOK_EVENTS,
            "description": f"Reseller portal {agency.slug}: credit purchases",
            "metadata": {META_AGENCY: str(agency.pk)},
        },
    )
    report.created.append(f"the webhook endpoint {created.id} for {url}")
    report.webhook_endpoint_id, report.webhook_secret = created.id, created.secret


def _run(agency: Agency, account: StripeAccount, report: ProvisionReport) -> ProvisionReport:
    product = _product(agency, account, report)
    report.product_id = product.id
    _prices(agency, account, product, report)
    if not is_connected(agency):
        if not agency.slug:
            raise ProvisionError("Choose a portal slug under Branding first: the webhook URL contains it.")
        _webhook(agency, account, report)
    return report


# What the audit log records of a set-up (the secrets as "changed" only).
AUDITED_FIELDS = [
    "stripe_secret_key",
    "stripe_publishable_key",
    "stripe_product_id",
    "stripe_price_id",
    "stripe_account_name",
    "stripe_webhook_endpoint_id",
    "stripe_webhook_secret",
]


def _save(agency: Agency, report: ProvisionReport, *, secret_key: str = "", actor=None) -> None:
    values: dict = {"stripe_product_id": report.product_id, "stripe_price_id": ""}
    if secret_key:
        # The key path needs no publishable key (Checkout redirects); one of another account would mislead.
        values.update(stripe_secret_key=secret_key, stripe_publishable_key="")
    if not is_connected(agency):
        values.update(stripe_account_name=report.account_name, stripe_webhook_endpoint_id=report.webhook_endpoint_id)
        if report.webhook_secret:
            values["stripe_webhook_secret"] = report.webhook_secret
    with transaction.atomic():
        before = snapshot(agency, AUDITED_FIELDS)
        agency_services.agency_update_stripe_setup(agency=agency, values=values)
        audit_record(
            actor=actor,
            action="stripe.key" if secret_key else "stripe.setup",
            agency_id=agency.pk,
            obj=agency,
            changes=changes_between(
                before, snapshot(agency, AUDITED_FIELDS), secret=["stripe_secret_key", "stripe_webhook_secret"]
            ),
        )
        for package_pk, price_id in report.prices.items():
            CreditPackage.objects.filter(pk=package_pk, agency=agency).update(stripe_price_id=price_id)
        # Packages off sale keep the price they were sold at in their history, not a live one.
        agency.packages.exclude(pk__in=list(report.prices)).exclude(stripe_price_id="").update(stripe_price_id="")


def _provision(
    agency: Agency, account: StripeAccount, *, secret_key: str = "", previous=None, actor=None
) -> ProvisionReport:
    mode = "live" if account.livemode else "test"
    try:
        stripe_account = stripe_api.account_retrieve(account=account)
        report = ProvisionReport(account_id=stripe_account.id, account_name=account_display_name(stripe_account))
        if previous is not None and previous.id != stripe_account.id:
            report.moved = (
                f"Moved from the Stripe account {account_display_name(previous)} ({previous.id}) to "
                f"{report.account_name} ({stripe_account.id}): the product, the prices and the webhook endpoint "
                "are now on the new account; the old account's objects were left as they were."
            )
        _run(agency, account, report)
    except StripeRejected as exc:
        raise ProvisionError(rejected_message(exc, mode=mode)) from None
    except StripeUnavailable:
        raise ProvisionError(
            "Stripe could not be reached, so nothing was changed on the portal. Try again in a minute."
        ) from None
    _save(agency, report, secret_key=secret_key, actor=actor)
    return report


def stripe_provision(*, agency: Agency, actor=None) -> ProvisionReport:
    """Create or find on the agency's Stripe account everything the portal needs; store what it learnt.

    Raises ProvisionError (one sentence with the fix) when Stripe refuses or cannot be reached.
    """
    account = accounts.agency_account(agency)
    if not account.configured:
        raise ProvisionError("No Stripe key is set: paste a secret key (a restricted key is best) on the Stripe page.")
    return _provision(agency, account, actor=actor)


def stripe_key_set(*, agency: Agency, secret_key: str, actor=None) -> ProvisionReport:
    """Check a new key, provision on its account, then store it. Raises ProvisionError with the reason."""
    secret_key = secret_key.strip()
    try:
        validators.validate_secret_key(secret_key)
    except ValidationError as exc:
        raise ProvisionError(exc.messages[0]) from None
    mode, portal = key_mode(secret_key), portal_mode()
    if mode != portal:
        raise ProvisionError(
            f"This is a {mode} key, but this portal takes {portal} keys (its platform runs in {portal} mode). "
            f"Use a {portal} key: Stripe's dashboard shows them with “Test mode” {'on' if portal == 'test' else 'off'}."
        )
    candidate = replace(
        accounts.agency_account(agency),
        secret_key=secret_key,
        webhook_secret="",
        livemode=mode == "live",
        connected_account_id="",
        label=f"agency {agency.pk} (new key)",
    )
    try:
        new = stripe_api.account_retrieve(account=candidate)
    except StripeRejected as exc:
        raise ProvisionError(rejected_message(exc, mode=mode)) from None
    except StripeUnavailable:
        raise ProvisionError("Stripe could not be reached to check this key; nothing was saved. Try again.") from None
    if is_connected(agency) and new.id != agency.stripe_account_id:
        raise ProvisionError(
            f"This key belongs to the Stripe account {account_display_name(new)} ({new.id}), but this portal is "
            f"connected to {agency.stripe_account_name or agency.stripe_account_id} ({agency.stripe_account_id}). "
            "Use a key of the connected account, or disconnect it first."
        )
    previous = None
    if agency.stripe_secret_key and agency.stripe_secret_key != secret_key:
        old = StripeAccount(
            secret_key=agency.stripe_secret_key,
            webhook_secret="",
            agency_id=agency.pk,
            label=f"agency {agency.pk} (old key)",
            livemode=key_mode(agency.stripe_secret_key) == "live",
        )
        try:
            previous = stripe_api.account_retrieve(account=old)
        except (StripeRejected, StripeUnavailable):
            previous = None  # a revoked old key: nothing to say about where things were
    if previous is not None and previous.id != new.id:
        # The stored endpoint and secret are the old account's: the new account gets its own.
        agency.stripe_webhook_endpoint_id = ""
    return _provision(agency, candidate, secret_key=secret_key, previous=previous, actor=actor)

"""The Advanced set-up (the seed's five pasted values): ask Stripe whether what was typed can work.

The recommended set-ups (Connect, or one key that the portal provisions) never
need this: billing.provisioning makes the product, prices and endpoint itself,
and billing.stripe_check checks them. Every call goes through billing.stripe_api.
"""

from dataclasses import dataclass, field

from core.money import money_format
from core.stripe_keys import key_mode

from . import stripe_api
from .stripe_api import WEBHOOK_EVENTS, StripeAccount, StripeRejected, StripeUnavailable


@dataclass
class SettingsCheck:
    errors: dict = field(default_factory=dict)  # form field -> [message]
    warnings: list = field(default_factory=list)
    unreachable: bool = False

    def add(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)


def settings_problems(
    *, secret_key: str, product_id: str, price_id: str, packages, webhook_url: str = ""
) -> SettingsCheck:
    """Ask Stripe whether the settings work: key valid, product and price exist, the price is
    one-time, belongs to the product and costs what one of the packages costs.

    Only what is filled in is checked. A Stripe that cannot be reached sets
    `unreachable` and checks nothing.
    """
    check = SettingsCheck()
    if not secret_key:
        return check
    mode = key_mode(secret_key)
    account = StripeAccount(
        secret_key=secret_key, webhook_secret="", agency_id=None, label="a key being checked", livemode=mode == "live"
    )
    try:
        product = price = None
        if product_id:
            product = stripe_api.missing_as_none(
                lambda: stripe_api.product_retrieve(account=account, product_id=product_id)
            )
            if product is None:
                check.add(
                    "stripe_product_id", f"There is no product {product_id} in this Stripe account ({mode} mode)."
                )
        if price_id:
            price = stripe_api.missing_as_none(lambda: stripe_api.price_retrieve(account=account, price_id=price_id))
            if price is None:
                check.add("stripe_price_id", f"There is no price {price_id} in this Stripe account ({mode} mode).")
        if not (product_id or price_id):
            stripe_api.key_check(account=account)
        if price is not None:
            _price_problems(check, price, product_id, packages)
        if webhook_url:
            _webhook_warnings(check, account, webhook_url)
    except StripeUnavailable:
        return SettingsCheck(unreachable=True)
    except StripeRejected as exc:
        message = {
            "auth": f"Stripe refused this secret key. Copy the {mode} secret key again from "
            "Stripe → Developers → API keys.",
            "permission": "This restricted key may not read products and prices. Give it read access to "
            "Products and Prices and write access to Checkout Sessions.",
        }.get(exc.kind, f"Stripe refused the check: {exc.detail}")
        return SettingsCheck(errors={"stripe_secret_key": [message]})
    return check


def _price_problems(check: SettingsCheck, price, product_id: str, packages) -> None:
    if not price.active:
        check.add("stripe_price_id", f"The price {price.id} is archived in Stripe. Use an active price.")
    if price.type != "one_time":
        check.add(
            "stripe_price_id",
            f"The price {price.id} is a recurring (subscription) price. "
            "Credit packages are bought once: use a one-time price.",
        )
    if product_id and price.product != product_id:
        check.add("stripe_price_id", f"The price {price.id} belongs to product {price.product}, not to {product_id}.")
    packages = list(packages)
    if packages and not any(
        p.price_cents == price.unit_amount and p.currency.lower() == price.currency for p in packages
    ):
        offered = ", ".join(
            f"{p.credits} credits for {money_format(p.price_cents, p.currency, symbol=False)}" for p in packages
        )
        check.add(
            "stripe_price_id",
            f"The price {price.id} is {money_format(price.unit_amount or 0, price.currency, symbol=False)}, "
            f"but no package costs that (your packages: {offered}).",
        )


def _webhook_warnings(check: SettingsCheck, account: StripeAccount, webhook_url: str) -> None:
    try:
        endpoints = stripe_api.webhook_endpoints_list(account=account)
    except StripeRejected as exc:
        if exc.kind in ("permission", "invalid"):
            return  # a restricted key may not read endpoints; nothing to say
        raise
    mine = [e for e in endpoints if e.url == webhook_url and e.status == "enabled"]
    if not mine:
        check.warnings.append(
            f"No enabled webhook endpoint in this Stripe account sends events to {webhook_url}: "
            "payments will only be credited when clients return to the portal."
        )
        return
    listened = set().union(*(set(e.enabled_events) for e in mine))
    missing = [t for t in WEBHOOK_EVENTS if t not in listened and "*" not in listened]
    if missing:
        check.warnings.append(f"The webhook endpoint for {webhook_url} does not send: {', '.join(missing)}.")

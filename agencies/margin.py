"""The margin calculator: what a package earns the agency over platform cost, net of VAT.

The VAT a price carries is the invoices' business (a layer above): the console
view asks invoices.selectors.price_vat_estimate for the split and passes the
net and gross in, so the calculator agrees with the invoices to the cent.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from core.money import exchange_rate, from_platform_currency, margin_percent

from .models import CreditPackage


@dataclass(frozen=True)
class Margin:
    package: CreditPackage
    price_cents: int  # net of VAT, in the package currency: what the agency keeps of a sale
    gross_cents: int  # what the client pays, VAT included
    cost_cents: int  # platform cost, converted to the package currency
    profit_cents: int
    margin_percent: Decimal | None  # profit over the NET price, one decimal place
    # Profit over what the client pays (VAT included): the figure to compare with a gross price list.
    gross_share_percent: Decimal | None
    converted: bool  # the package currency differs from the platform's
    rate: Decimal  # platform currency units per package currency unit
    rate_missing: bool = False  # no rate configured: the cost is shown unconverted

    @property
    def below_cost(self) -> bool:
        return self.profit_cents < 0


def margin_for(package: CreditPackage, *, net_cents: int | None = None, gross_cents: int | None = None) -> Margin:
    """The package's cost, profit and margin on its net price (its price when no VAT split is given)."""
    net = package.price_cents if net_cents is None else net_cents
    gross = package.price_cents if gross_cents is None else gross_cents
    platform_cost = package.credits * settings.PLATFORM_MINUTE_PRICE_CENTS  # platform currency cents
    rate = exchange_rate(package.currency)
    converted = package.currency != settings.PLATFORM_CURRENCY
    # Say so rather than silently pretend a missing rate is 1:1.
    rate_missing = rate is None
    if rate is None:
        rate = Decimal(1)
    cost = from_platform_currency(platform_cost, rate)
    profit = net - cost
    percent = margin_percent(profit_cents=profit, price_cents=net)
    share = margin_percent(profit_cents=profit, price_cents=gross)
    return Margin(package, net, gross, cost, profit, percent, share, converted, rate, rate_missing)

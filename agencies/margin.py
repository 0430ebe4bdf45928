"""The margin calculator: what a package earns the agency over platform cost."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from core.money import exchange_rate, from_platform_currency, margin_percent

from .models import CreditPackage


@dataclass(frozen=True)
class Margin:
    package: CreditPackage
    price_cents: int  # in the package currency
    cost_cents: int  # platform cost, converted to the package currency
    profit_cents: int
    margin_percent: Decimal | None  # one decimal place
    converted: bool  # the package currency differs from the platform's
    rate: Decimal  # platform currency units per package currency unit
    rate_missing: bool = False  # no rate configured: the cost is shown unconverted

    @property
    def below_cost(self) -> bool:
        return self.profit_cents < 0


def margin_for(package: CreditPackage) -> Margin:
    platform_cost = package.credits * settings.PLATFORM_MINUTE_PRICE_CENTS  # platform currency cents
    rate = exchange_rate(package.currency)
    converted = package.currency != settings.PLATFORM_CURRENCY
    # Say so rather than silently pretend a missing rate is 1:1.
    rate_missing = rate is None
    if rate is None:
        rate = Decimal(1)
    cost = from_platform_currency(platform_cost, rate)
    profit = package.price_cents - cost
    percent = margin_percent(profit_cents=profit, price_cents=package.price_cents)
    return Margin(package, package.price_cents, cost, profit, percent, converted, rate, rate_missing)

"""The margin calculator: what a package earns the agency over platform cost."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

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
    rate = settings.EXCHANGE_RATES.get(package.currency)
    converted = package.currency != settings.PLATFORM_CURRENCY
    # Say so rather than silently pretend a missing rate is 1:1.
    rate_missing = converted and (rate is None or rate <= 0)
    if rate is None or rate <= 0:
        rate = Decimal(1)
    cost = int((Decimal(platform_cost) / rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    profit = package.price_cents - cost
    percent = (Decimal(profit) * 100 / package.price_cents).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Margin(package, package.price_cents, cost, profit, percent, converted, rate, rate_missing)

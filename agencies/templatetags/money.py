from django import template

from core.money import money_format

register = template.Library()


@register.filter
def money(cents, currency: str = "EUR") -> str:
    """Integer minor units as text: 4000, "EUR" -> "€40.00" (core.money.money_format)."""
    return money_format(cents, currency)

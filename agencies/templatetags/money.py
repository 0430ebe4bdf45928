from django import template

register = template.Library()

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


@register.filter
def money(cents, currency: str = "EUR") -> str:
    """Integer minor units as text: 4000, "EUR" -> "€40.00". No floats involved."""
    if cents is None or cents == "":
        return ""
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{whole:,}.{rest:02d}"

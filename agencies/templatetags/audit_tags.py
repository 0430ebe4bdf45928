from django import template

from agencies import roles

register = template.Library()


@register.filter
def can(user, capability: str) -> bool:
    """{% if user|can:"audit" %}: the role table's answer for the logged-in account (agencies.roles)."""
    return bool(getattr(user, "is_authenticated", False)) and roles.can(user, capability)

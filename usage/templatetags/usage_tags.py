"""Template helpers for pages other apps own (the agency's users table)."""

from django import template

from usage import selectors

register = template.Library()


@register.simple_tag
def client_balances(users) -> dict:
    """Balance (total, reserved, free) per organization of `users`, with one query for the whole page."""
    totals = {user.organization_id: user.organization.credits_balance for user in users if user.organization_id}
    reserved = selectors.reserved_by_organization(organization_ids=totals)
    return {pk: selectors.Balance(total, reserved.get(pk, 0)) for pk, total in totals.items()}


@register.filter
def get_item(mapping, key):
    return mapping.get(key)

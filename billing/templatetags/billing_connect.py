"""The Stripe page's Connect panel reads its state here (the page's view belongs to agencies, a lower layer)."""

from django import template

from billing import connect, connect_standin

register = template.Library()


@register.simple_tag
def connect_state(agency):
    return connect.connection_state(agency)


@register.simple_tag
def connect_test_account_offered(agency):
    """Offer "Use a test Stripe account" only on the stand-in, and only to an agency not yet connected."""
    state = connect.connection_state(agency)
    return state.state in ("not connected", "disconnected") and connect_standin.standin_available()

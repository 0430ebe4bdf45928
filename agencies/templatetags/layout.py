"""Tags for the base layout (templates/base.html)."""

import re

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_LINK = re.compile(r'<a href="([^"]*)"')


@register.filter
def mark_current(nav_html: str, path: str) -> SafeString:
    """Add aria-current="page" to the links of a rendered navigation that point at `path`.

    A filter over the rendered block rather than a tag per link: the nav stays plain <a href> lines
    that any app's layout can add to, and each gets the marker for free.
    """

    def mark(match: re.Match[str]) -> str:
        if match.group(1) != path:
            return match.group(0)
        return f'{match.group(0)} aria-current="page"'

    return mark_safe(_LINK.sub(mark, str(nav_html)))  # noqa: S308  # input is the layout's own rendered, escaped HTML


@register.filter
def can(user, capability: str) -> bool:
    """`{% if user|can:"branding" %}`: whether the account's role has the capability (agencies.roles).

    Hides what a role cannot use; the views' own checks are what refuse it.
    """
    from agencies import roles  # the models load after the template libraries

    if not getattr(user, "is_authenticated", False):
        return False
    return roles.can(user, capability)

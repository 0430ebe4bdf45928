"""Confirm before a destructive console action: a second POST with confirm=1, no JavaScript needed.

A view that destroys or changes something a person relies on answers its first
POST with a page that names the consequence ("34 clients will see 'not
available'") and a form re-posting the same fields plus confirm=1; only that
second POST acts.
"""

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirm") == "1"


def confirm_page(
    request: HttpRequest,
    *,
    title: str,
    consequences: list[str],
    button: str,
    action: str,
    cancel_url: str,
    fields: Iterable[tuple[str, str]] = (),
    extra_link: tuple[str, str] | None = None,
    context: dict[str, object] | None = None,
    base: str = "console/base.html",
) -> HttpResponse:
    """The page asking to confirm; `base` is the layout (the portal's "base.html" on a client's page)."""
    confirm = {
        "title": title,
        "consequences": consequences,
        "button": button,
        "action": action,
        "cancel_url": cancel_url,
        "fields": list(fields),
        "extra_link": extra_link,
        "base": base,
    }
    return render(request, "console/confirm.html", {**(context or {}), "confirm": confirm})

"""Pages: a client's usage, and API keys for clients (portal) and agencies (console).

A new key is rendered once, in the answer to the POST that created it, with
Cache-Control: no-store; it is never put in a message, a session or a log.
"""

from datetime import UTC, date, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies import access
from agencies.models import Role
from core.confirm import confirm_page, confirmed

from . import keys, selectors
from .forms import ApiKeyForm
from .models import ApiKey

USAGE_PAGE_SIZE = 50
# What Python can load; a row outside (stored before created_at was bounded) is left to usage_data_check.
LOADABLE = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


@login_required
def usage_page(request):
    organization = access.organization_or_404(request)
    records = organization.usage_records.filter(created_at__range=LOADABLE).order_by("-created_at", "-pk")
    first, last = date.min, date.max  # the loadable days, as LOADABLE
    day = _day(request.GET.get("day", ""))
    if day is not None:  # a day of the billing history: that day's calls (UTC)
        records = selectors.usage_in_range(
            agency_id=organization.agency_id, organization=organization, start=day, end=day
        )
        first = last = day
    count = selectors.calls_count(agency_id=organization.agency_id, organization=organization, start=first, end=last)
    page = selectors.CountedPaginator(records, USAGE_PAGE_SIZE, count=count).get_page(request.GET.get("page"))
    return render(
        request,
        "usage/portal_usage.html",
        {
            "organization": organization,
            "balance": selectors.organization_balance(organization=organization),
            "monthly_minutes": selectors.monthly_usage_minutes(organization=organization),
            "page": page,
            "day": day,
            "query": f"day={day.isoformat()}" if day else "",
        },
    )


def _day(value: str) -> date | None:
    """A YYYY-MM-DD query parameter as a date; anything else: no filter."""
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _scope(request, owner: dict) -> dict:
    """The keys this account may see and revoke: its tenant's, or only its own for an organization's member."""
    if request.user.role == Role.MEMBER:
        return {**owner, "created_by": request.user}
    return owner


def _keys_page(request, *, template: str, owner: dict, new_key=None, form=None, status=200):
    return render(
        request,
        template,
        {
            "form": form or ApiKeyForm(),
            "api_keys": ApiKey.objects.filter(**_scope(request, owner)),
            "new_key": new_key,
            **owner,
        },
        status=status,
    )


def _keys(request, *, template: str, owner: dict):
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return _keys_page(request, template=template, owner=owner, form=form, status=400)
        new_key = keys.api_key_create(name=form.cleaned_data["name"], created_by=request.user, **owner)
        return _keys_page(request, template=template, owner=owner, new_key=new_key, status=201)
    return _keys_page(request, template=template, owner=owner)


def _revoke(request, *, key_id: int, owner: dict, back: str, action: str, base: str):
    api_key = get_object_or_404(ApiKey, pk=key_id, **_scope(request, owner))  # another member's key: 404
    if not api_key.is_revoked and not confirmed(request):
        return confirm_page(
            request,
            title=f"Revoke {api_key.name}?",
            consequences=[
                (
                    f"Every request made with {api_key.name} ({api_key.prefix}…) is refused at once, "
                    "calls in progress included. A revoked key cannot be restored: you would make a new one."
                )
            ],
            button="Revoke the key",
            action=action,
            cancel_url=reverse(back),
            base=base,
        )
    if api_key.is_revoked:
        messages.info(request, f"{api_key.name} was already revoked.")
    else:
        keys.api_key_revoke(api_key=api_key, actor=request.user)
        messages.success(request, f"Revoked {api_key.name} ({api_key.prefix}…). It stops working at once.")
    return redirect(back)


@never_cache
@login_required
def client_keys(request):
    owner = {"organization": access.organization_or_404(request, capability="api_keys")}
    return _keys(request, template="usage/portal_api_keys.html", owner=owner)


@login_required
@require_POST
def client_key_revoke(request, key_id):
    owner = {"organization": access.organization_or_404(request, capability="api_keys")}
    action = reverse("usage:key_revoke", args=[key_id])
    return _revoke(request, key_id=key_id, owner=owner, back="usage:keys", action=action, base="base.html")


@never_cache
@login_required
def agency_keys(request):
    owner = {"agency": access.agency_or_404(request, write="usage_sources")}
    return _keys(request, template="usage/console_api_keys.html", owner=owner)


@login_required
@require_POST
def agency_key_revoke(request, key_id):
    owner = {"agency": access.agency_or_404(request, capability="usage_sources")}
    action = reverse("usage_console:key_revoke", args=[key_id])
    return _revoke(
        request, key_id=key_id, owner=owner, back="usage_console:keys", action=action, base="console/base.html"
    )

"""Admin actions the platform operator uses on agencies (attached in agencies/admin.py)."""

import uuid

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from billing import ledger

from .forms import MinutesForm


@admin.action(description="Add or remove call minutes", permissions=["change"])
def minutes_adjust(modeladmin, request, queryset):
    """Agency action: the platform operator records minutes an agency bought, with a description."""
    form = MinutesForm(request.POST if "apply" in request.POST else None, initial={"token": uuid.uuid4().hex})
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        for agency in queryset:
            try:
                posted = ledger.minutes_add(
                    agency=agency,
                    amount=data["minutes"],
                    description=data["description"],
                    actor=request.user,
                    reference=f"minutes:{data['token']}:{agency.pk}",
                )
            except ledger.InsufficientBalance as refused:
                modeladmin.message_user(
                    request,
                    f"{agency}: not changed, only {refused.balance} minutes to take from.",
                    messages.ERROR,
                )
                continue
            verb = "Recorded" if posted.created else "Already recorded"
            modeladmin.message_user(
                request,
                f"{agency}: {verb} {data['minutes']:+d} minutes; balance {posted.entry.balance_after}.",
                messages.SUCCESS,
            )
        return None
    return TemplateResponse(
        request,
        "admin/usage/minutes_adjust.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Add or remove call minutes",
            "form": form,
            "agencies": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )

"""Console: agency notification switches, webhook test events and "Retry now" on deliveries."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from agencies import access

from . import alert_pages, notices
from .console_views import _alert_place
from .forms import NotificationsForm


@login_required
@require_POST
def notifications(request):
    agency = access.agency_or_404(request, capability="alerts")
    form = NotificationsForm(request.POST)
    form.is_valid()  # two checkboxes: always valid
    notices.agency_notifications_save(
        agency=agency,
        client_signup=form.cleaned_data["notify_client_signup"],
        purchase=form.cleaned_data["notify_purchase"],
        actor=request.user,
    )
    messages.success(request, "Notification settings saved.")
    return redirect("ops_console:alerts")


@login_required
@require_POST
def alerts_test(request):
    agency = access.agency_or_404(request, capability="alerts")
    return alert_pages.test_send(request, owner={"agency": agency}, place=_alert_place(agency))


@login_required
@require_POST
def alerts_retry(request, delivery_id: int):
    agency = access.agency_or_404(request, capability="alerts")
    return alert_pages.retry(request, owner={"agency": agency}, place=_alert_place(agency), delivery_id=delivery_id)

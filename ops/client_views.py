"""The console's page for one client (/console/ops/clients/<id>/): overview, notes, suspend and resume."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agencies import access, roles, services
from agencies.models import Organization

from . import charts, clients, dashboards
from .forms import ClientNotesForm, SuspendForm


def _client_or_404(request, org_id: int, *, capability: str = "view") -> Organization:
    agency = access.agency_or_404(request, capability=capability)
    return get_object_or_404(
        Organization.objects.select_related("agency", "owner", "suspended_by", "resumed_by"),
        pk=org_id,
        agency=agency,
    )


def _client_chart(organization: Organization, daily) -> charts.Chart:
    """The client's 30-day chart (dashboards.last_days_minutes): the page links it, client_chart draws it."""
    return charts.Chart(
        series=daily,
        color="#047857",
        label=f"Minutes used per day by {organization.name}",
        url_name="ops_console:client_chart",
        url_kwargs=(("org_id", organization.pk),),
    )


def _page(request, organization: Organization, *, notes_form=None, suspend_form=None, status: int = 200):
    overview = clients.client_overview(organization=organization)
    return render(
        request,
        "ops/client.html",
        {
            "agency": organization.agency,
            "organization": organization,
            "overview": overview,
            "chart": _client_chart(organization, overview.daily),
            "notes_form": notes_form or ClientNotesForm(initial={"notes": organization.notes}),
            "suspend_form": suspend_form or SuspendForm(),
            "can_view_as": roles.can(request.user, "view_as"),
        },
        status=status,
    )


@login_required
def client(request, org_id: int):
    return _page(request, _client_or_404(request, org_id))


@login_required
def client_chart(request, org_id: int, size: str):
    organization = _client_or_404(request, org_id)
    daily = dashboards.last_days_minutes(organization=organization)
    return charts.chart_response(request, _client_chart(organization, daily), size)


@login_required
@require_POST
def client_notes(request, org_id: int):
    organization = _client_or_404(request, org_id, capability="clients")
    form = ClientNotesForm(request.POST)
    if not form.is_valid():
        return _page(request, organization, notes_form=form, status=400)
    services.organization_notes_save(organization=organization, notes=form.cleaned_data["notes"], actor=request.user)
    messages.success(request, "Notes saved.")
    return redirect("ops_console:client", org_id=organization.pk)


@login_required
@require_POST
def client_suspend(request, org_id: int):
    organization = _client_or_404(request, org_id, capability="clients")
    form = SuspendForm(request.POST)
    if not form.is_valid():
        return _page(request, organization, suspend_form=form, status=400)
    if services.organization_suspend(organization=organization, actor=request.user, reason=form.cleaned_data["reason"]):
        messages.success(request, f"{organization.name} is suspended: its calls are refused until you resume it.")
    else:
        messages.info(request, f"{organization.name} was suspended already.")
    return redirect("ops_console:client", org_id=organization.pk)


@login_required
@require_POST
def client_resume(request, org_id: int):
    organization = _client_or_404(request, org_id, capability="clients")
    if services.organization_resume(organization=organization, actor=request.user):
        messages.success(request, f"{organization.name} is resumed: its calls are authorized again.")
    else:
        messages.info(request, f"{organization.name} was not suspended.")
    return redirect("ops_console:client", org_id=organization.pk)

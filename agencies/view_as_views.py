"""View as client: the console's button (console host) and the portal's two ends of it (portal host).

The services and what a view may do: agencies.view_as; the read-only guard: agencies.middleware.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import access, tenancy, view_as
from .models import Organization

CLIENT_PAGE = "ops_console:client"  # the console's page for one client, where the button is


@login_required
@require_POST
def view_as_start(request, org_id: int):
    """Console: send the agency member to the client's portal with a one-minute, single-use token."""
    agency = access.agency_or_404(request, capability="view_as")
    organization = get_object_or_404(Organization, pk=org_id, agency=agency)
    if not agency.is_active:
        messages.error(request, "Your portal is switched off: activate it to view it as a client.")
        return redirect(CLIENT_PAGE, org_id=organization.pk)
    if view_as.view_as_account(organization=organization) is None:
        messages.error(request, f"{organization.name} has no owner account to view the portal as.")
        return redirect(CLIENT_PAGE, org_id=organization.pk)
    token = view_as.view_as_token_issue(member=request.user, organization=organization)
    path = reverse("view_as:redeem", urlconf=settings.PORTAL_URLCONF, kwargs={"token": token})
    return redirect(tenancy.portal_url(agency, path))


@never_cache
def view_as_redeem(request, token: str):
    """Portal: open the view the token names, then the client's dashboard. No portal password is asked:
    the token is the agency member's console sign-in, one minute old at most."""
    grant = view_as.view_as_token_redeem(token=token, agency=request.agency)
    if grant is None or view_as.view_as_session_start(request=request, grant=grant) is None:
        return render(request, "portal/view_as_invalid.html", status=410)
    return redirect("home")


@require_POST
def view_as_end(request):
    """Portal: end the view ("End" on the banner) and go back to the client's page on the console."""
    current = getattr(request, "view_as", None)
    if current is None or not view_as.view_as_session_end(request=request, how=view_as.ENDED):
        return redirect("home")
    path = reverse(CLIENT_PAGE, urlconf=settings.ROOT_URLCONF, kwargs={"org_id": current.organization_id})
    return redirect(tenancy.console_url(path))

"""Who may see what: the one place views resolve the tenant they act for.

Console views act for the agency the logged-in console user administers;
portal views for the logged-in client's organization on that portal. Anything
else is a 404, never another tenant's data.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Agency, Organization


def agency_or_404(request) -> Agency:
    """The agency the logged-in console user administers, fresh from the database."""
    if request.agency is not None or request.user.managed_agency_id is None:
        raise Http404("No agency")
    return get_object_or_404(Agency, pk=request.user.managed_agency_id)


def organization_or_404(request) -> Organization:
    """The logged-in client's organization on this portal, fresh from the database."""
    if request.agency is None or request.user.organization_id is None:
        raise Http404("No organization")
    return get_object_or_404(Organization, pk=request.user.organization_id, agency_id=request.agency.pk)

"""Who may see what: the one place views resolve the tenant they act for, and check the role.

Console views act for the agency the logged-in console user administers;
portal views for the logged-in client's organization on that portal. Anything
else is a 404, never another tenant's data. Then the account's role must have
the capability the view names (agencies.roles): a refusal is PermissionDenied,
a 403 with a plain message (templates/403.html), before anything is changed.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404

from . import roles
from .models import Agency, Organization

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _needed(request, capability: str, write: str | None) -> str:
    """`write` for a request that may change something (POST...), when the view names one; else `capability`."""
    return write if write is not None and request.method not in SAFE_METHODS else capability


def agency_or_404(request, *, capability: str = "view", write: str | None = None) -> Agency:
    """The agency the logged-in console user administers, fresh from the database; 403 without `capability`.

    A page that shows on GET and saves on POST passes `write`: reading it needs "view", saving needs `write`.
    """
    if request.agency is not None or request.user.managed_agency_id is None:
        raise Http404("No agency")
    agency = get_object_or_404(Agency, pk=request.user.managed_agency_id)
    roles.require(request.user, _needed(request, capability, write))
    return agency


def organization_or_404(request, *, capability: str = "view", write: str | None = None) -> Organization:
    """The logged-in client's organization on this portal, fresh from the database; 403 without `capability`."""
    if request.agency is None or request.user.organization_id is None:
        raise Http404("No organization")
    organization = get_object_or_404(Organization, pk=request.user.organization_id, agency_id=request.agency.pk)
    roles.require(request.user, _needed(request, capability, write))
    return organization

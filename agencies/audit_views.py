"""The audit log pages: the agency's (console) and a client organization's (its owner, on the portal)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from core.csv_export import csv_response

from . import access, audit_log

PAGE_SIZE = 50


def _page(request, *, entries, template: str, context: dict):
    form = audit_log.AuditFilterForm(request.GET or None, entries=entries)
    page = Paginator(form.apply(entries), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    rows = [(entry, audit_log.change_lines(entry)) for entry in page]
    return render(
        request,
        template,
        {**context, "form": form, "page": page, "rows": rows, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
def console_audit(request):
    agency = access.agency_or_404(request, capability="audit")
    entries = audit_log.audit_entries(agency_id=agency.pk)
    return _page(request, entries=entries, template="console/audit.html", context={"agency": agency})


@never_cache
@login_required
def console_audit_csv(request):
    """The entries the page shows for the same filters, all pages, as CSV."""
    agency = access.agency_or_404(request, capability="audit")
    entries = audit_log.audit_entries(agency_id=agency.pk)
    form = audit_log.AuditFilterForm(request.GET or None, entries=entries)
    if form.is_bound and not form.is_valid():
        # Never the whole log in place of the filtered part the person asked for.
        return HttpResponseBadRequest("These filters are not valid: correct them on the audit log page.")
    return csv_response(
        filename=f"audit-log-{agency.slug or agency.pk}.csv",
        header=audit_log.CSV_HEADER,
        rows=audit_log.csv_rows(form.apply(entries)),
    )


@never_cache
@login_required
def portal_audit(request):
    organization = access.organization_or_404(request, capability="audit")
    entries = audit_log.audit_entries(agency_id=organization.agency_id, organization_id=organization.pk)
    return _page(request, entries=entries, template="portal/audit.html", context={"organization": organization})

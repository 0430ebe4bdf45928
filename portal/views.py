from django.http import HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from agencies import tenancy
from agencies.context_processors import favicon_url


@require_GET
def tls_allowed(request):
    """Caddy's on-demand TLS `ask` endpoint: 200 only for hosts we serve."""
    if tenancy.tls_allowed(request.GET.get("domain", "")):
        return HttpResponse("ok", content_type="text/plain")
    return HttpResponseNotFound("unknown domain", content_type="text/plain")


@require_GET
def favicon(request):
    """/favicon.ico, which browsers ask for on their own: the tab icon the layout links to."""
    return redirect(favicon_url(request.agency))


def portal_not_found(request, exception=None):
    """handler404 on portal hosts: a 404 in the agency's name and colours, with a way back."""
    return render(request, "portal/404.html", {"agency": request.agency}, status=404)

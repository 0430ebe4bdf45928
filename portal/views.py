from django.http import HttpResponse, HttpResponseNotFound
from django.views.decorators.http import require_GET

from agencies import tenancy


@require_GET
def tls_allowed(request):
    """Caddy's on-demand TLS `ask` endpoint: 200 only for hosts we serve."""
    if tenancy.tls_allowed(request.GET.get("domain", "")):
        return HttpResponse("ok", content_type="text/plain")
    return HttpResponseNotFound("unknown domain", content_type="text/plain")

"""URLs served on an agency's portal host (<slug>.<base> or its custom domain)."""

from django.urls import include, path

from agencies import portal_views
from portal.views import favicon, tls_allowed

handler404 = "portal.views.portal_not_found"

urlpatterns = [
    path("", portal_views.home, name="home"),
    path("accounts/", include("agencies.urls_accounts")),
    path("billing/", include("billing.urls_portal")),
    path("settings/billing/", include("invoices.urls_portal")),
    path("api/v1/", include("usage.urls_api")),
    path("", include("usage.urls_portal")),
    path("", include("ops.urls_portal")),
    path("internal/tls-allowed", tls_allowed, name="tls_allowed"),
    path("favicon.ico", favicon, name="favicon"),
]

"""URLs served on an agency's portal host (<slug>.<base> or its custom domain)."""

from django.urls import include, path

from agencies import invitation_views
from billing import urls_portal as billing_urls
from portal import client_views
from portal.views import favicon, tls_allowed

handler404 = "portal.views.portal_not_found"

# Billing's portal pages, and the history, which reads usage too and so lives at this layer (same namespace).
billing_patterns = [path("", client_views.billing_history, name="home"), *billing_urls.urlpatterns]

urlpatterns = [
    path("", client_views.home, name="home"),
    path("accounts/", include("agencies.urls_accounts")),
    path("view-as/", include("agencies.urls_view_as")),
    path("billing/", include((billing_patterns, billing_urls.app_name))),
    path("settings/billing/", include("invoices.urls_portal")),
    path("settings/members/", include("agencies.urls_members_portal")),
    path("settings/invitations/", include("agencies.urls_invitations")),
    path("invitations/<str:token>/", invitation_views.invitation_accept, name="invitation_accept"),
    path("api/v1/", include("portal.urls_api")),
    path("", include("usage.urls_portal")),
    path("", include("ops.urls_portal")),
    path("", include("agencies.urls_portal")),
    path("internal/tls-allowed", tls_allowed, name="tls_allowed"),
    path("favicon.ico", favicon, name="favicon"),
]

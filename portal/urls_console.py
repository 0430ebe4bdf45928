"""URLs served on the console host (the bare PORTAL_BASE_DOMAIN)."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from agencies import console_views, invitation_views
from portal.views import favicon, tls_allowed

# Admin logins go through allauth's login view, so its rate limits apply.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]  # allauth's documented way

urlpatterns = [
    path("", console_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("agencies.urls_accounts")),
    path("console/billing/", include("billing.urls_console")),
    path("console/invoices/", include("invoices.urls_console")),
    path("console/ops/", include("ops.urls_console")),
    path("console/", include("billing.urls_setup")),  # the Stripe page and activation
    path("console/", include("agencies.urls_console")),
    path("console/api-keys/", include("usage.urls_console")),
    path("invitations/<str:token>/", invitation_views.invitation_accept, name="invitation_accept"),
    path("api/v1/", include("portal.urls_api")),
    path("api/", include("billing.urls_api")),
    path("internal/tls-allowed", tls_allowed, name="tls_allowed"),
    path("favicon.ico", favicon, name="favicon"),
]

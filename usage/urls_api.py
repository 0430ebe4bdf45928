"""/api/v1/: key-authenticated, host-independent (mounted on the console and on every portal)."""

from django.urls import path, re_path

from . import api, api_views

app_name = "api_v1"

urlpatterns = [
    path("account", api_views.account, name="account"),
    path("billing/balance", api_views.balance, name="balance"),
    path("usage", api_views.usage, name="usage"),
    path("calls/authorize", api_views.authorize, name="authorize"),
    # Last: anything else under /api/v1/ is a JSON 404, never a Django page.
    re_path(r"^.*$", api.not_found),
]

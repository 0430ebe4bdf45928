from django.urls import path

from . import console_views as views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("branding/", views.branding, name="branding"),
    path("domain/", views.domain, name="domain"),
    path("domain/refresh/", views.domain_refresh, name="domain_refresh"),
    path("stripe/", views.stripe_settings, name="stripe"),
    path("packages/", views.packages, name="packages"),
    path("packages/<int:package_id>/delete/", views.package_delete, name="package_delete"),
    path("activation/", views.activation, name="activation"),
    path("users/", views.users, name="users"),
]

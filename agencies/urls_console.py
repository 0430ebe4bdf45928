from django.urls import path

from . import console_views as views, view_as_views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("branding/", views.branding, name="branding"),
    path("domain/", views.domain, name="domain"),
    path("domain/refresh/", views.domain_refresh, name="domain_refresh"),
    path("packages/", views.packages, name="packages"),
    path("packages/<int:package_id>/delete/", views.package_delete, name="package_delete"),
    path("packages/<int:package_id>/edit/", views.package_edit, name="package_edit"),
    path("packages/<int:package_id>/visibility/", views.package_visibility, name="package_visibility"),
    path("packages/<int:package_id>/move/", views.package_move, name="package_move"),
    path("users/", views.users, name="users"),
    path("users.csv", views.users_csv, name="users_csv"),
    path("clients/<int:org_id>/view-as/", view_as_views.view_as_start, name="view_as"),
]

from django.urls import path

from . import audit_views, console_views as views, invitation_views, member_views, security_views, view_as_views

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
    path("members/", member_views.console_members, name="members"),
    path("members/<int:member_id>/role/", member_views.console_member_role, name="member_role"),
    path("members/<int:member_id>/remove/", member_views.console_member_remove, name="member_remove"),
    path("members/<int:member_id>/transfer/", member_views.console_member_transfer, name="member_transfer"),
    path("audit/", audit_views.console_audit, name="audit"),
    path("audit.csv", audit_views.console_audit_csv, name="audit_csv"),
    path("invitations/", invitation_views.invitations, name="invitations"),
    path("invitations/<int:invitation_id>/resend/", invitation_views.invitation_resend, name="invitation_resend"),
    path("invitations/<int:invitation_id>/revoke/", invitation_views.invitation_revoke, name="invitation_revoke"),
    path("security/", security_views.security, name="security"),
    path("clients/<int:org_id>/view-as/", view_as_views.view_as_start, name="view_as"),
]

"""A client owner's invitations, on the portal host (the console's are in agencies.urls_console)."""

from django.urls import path

from . import invitation_views as views

app_name = "invitations"

urlpatterns = [
    path("", views.invitations, name="list"),
    path("<int:invitation_id>/resend/", views.invitation_resend, name="resend"),
    path("<int:invitation_id>/revoke/", views.invitation_revoke, name="revoke"),
]

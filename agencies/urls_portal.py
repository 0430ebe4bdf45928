"""The agencies app's pages on a portal host."""

from django.urls import path

from . import audit_views

app_name = "agencies_portal"

urlpatterns = [
    path("settings/audit-log/", audit_views.portal_audit, name="audit"),
]

"""The Members page of a client organization's owners, on its portal (/settings/members/)."""

from django.urls import path

from . import member_views

app_name = "portal_members"

urlpatterns = [
    path("", member_views.portal_members, name="members"),
    path("<int:member_id>/role/", member_views.portal_member_role, name="member_role"),
    path("<int:member_id>/remove/", member_views.portal_member_remove, name="member_remove"),
    path("<int:member_id>/transfer/", member_views.portal_member_transfer, name="member_transfer"),
]

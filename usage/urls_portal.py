"""Client pages on an agency's portal host."""

from django.urls import path

from . import views

app_name = "usage"

urlpatterns = [
    path("usage/", views.usage_page, name="usage"),
    path("settings/api-keys/", views.client_keys, name="keys"),
    path("settings/api-keys/<int:key_id>/revoke/", views.client_key_revoke, name="key_revoke"),
]

"""Billing pages of the agency console (mounted at console/billing/ on the console host)."""

from django.urls import path

from . import console_views as views

app_name = "console_billing"

urlpatterns = [
    path("purchases/", views.purchases, name="purchases"),
    path("purchases/<int:purchase_id>/", views.purchase_detail, name="purchase"),
    path("clients/<int:org_id>/allocate/", views.allocate, name="allocate"),
]

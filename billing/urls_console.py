"""Billing pages of the agency console (mounted at console/billing/ on the console host)."""

from django.urls import path

from . import console_views as views

app_name = "console_billing"

urlpatterns = [
    path("purchases/", views.purchases, name="purchases"),
    path("purchases/<int:purchase_id>/", views.purchase_detail, name="purchase"),
    path("purchases/<int:purchase_id>/refund/", views.purchase_refund, name="purchase_refund"),
    path("clients/<int:org_id>/allocate/", views.allocate, name="allocate"),
    path("minutes/", views.minutes_buy, name="minutes"),
    path("minutes/success/", views.minutes_success, name="minutes_success"),
    path("minutes/cancelled/<str:reference>/", views.minutes_cancelled, name="minutes_cancelled"),
]

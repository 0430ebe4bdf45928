"""Billing pages of the agency console (mounted at console/billing/ on the console host)."""

from django.urls import path

from . import connect_views, console_views as views, reload_views, topup_views

app_name = "console_billing"

urlpatterns = [
    path("purchases/", views.purchases, name="purchases"),
    path("purchases.csv", views.purchases_csv, name="purchases_csv"),
    path("purchases/<int:purchase_id>/", views.purchase_detail, name="purchase"),
    path("purchases/<int:purchase_id>/refund/", views.purchase_refund, name="purchase_refund"),
    path("clients/<int:org_id>/allocate/", views.allocate, name="allocate"),
    path("minutes/", views.minutes_buy, name="minutes"),
    path("minutes/success/", views.minutes_success, name="minutes_success"),
    path("minutes/auto-reload/", reload_views.console_auto_reload, name="auto_reload"),
    path("minutes/topup/", topup_views.console_topup, name="topup"),
    path("topup-price/", topup_views.topup_rate, name="topup_rate"),
    path("minutes/payment-methods/", topup_views.console_payment_methods, name="payment_methods"),
    path("minutes/payment-methods/add/", topup_views.console_payment_method_add, name="payment_method_add"),
    path(
        "minutes/payment-methods/<str:method_id>/remove/",
        topup_views.console_payment_method_remove,
        name="payment_method_remove",
    ),
    path(
        "minutes/payment-methods/<str:method_id>/default/",
        topup_views.console_payment_method_default,
        name="payment_method_default",
    ),
    path("connect/start/", connect_views.connect_start, name="connect_start"),
    path("connect/return/", connect_views.connect_return, name="connect_return"),
    path("connect/create/", connect_views.connect_create, name="connect_create"),
    path("connect/onboarding/", connect_views.connect_onboarding, name="connect_onboarding"),
    path("connect/onboarding/refresh/", connect_views.connect_onboarding_refresh, name="connect_onboarding_refresh"),
    path("connect/onboarding/return/", connect_views.connect_onboarding_return, name="connect_onboarding_return"),
    path("connect/disconnect/", connect_views.connect_disconnect, name="connect_disconnect"),
    path("connect/test-account/", connect_views.connect_test_account, name="connect_test_account"),
    path("minutes/cancelled/<str:reference>/", views.minutes_cancelled, name="minutes_cancelled"),
]

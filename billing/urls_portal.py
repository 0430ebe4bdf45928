"""Billing pages on an agency's portal host; the history (billing:home) is portal.client_views'."""

from django.urls import path

from . import portal_views as views, reload_views, topup_views

app_name = "billing"

urlpatterns = [
    path("buy/", views.buy, name="buy"),
    path("buy/<int:package_id>/", views.buy_package, name="buy_package"),
    path("buy/success/", views.purchase_success, name="success"),
    path("buy/cancelled/<str:reference>/", views.purchase_cancelled, name="cancelled"),
    path("auto-reload/", reload_views.portal_auto_reload, name="auto_reload"),
    path("payment-methods/", topup_views.payment_methods_page, name="payment_methods"),
    path("payment-methods/add/", topup_views.payment_method_add, name="payment_method_add"),
    path("payment-methods/<str:method_id>/remove/", topup_views.payment_method_remove, name="payment_method_remove"),
    path("payment-methods/<str:method_id>/default/", topup_views.payment_method_default, name="payment_method_default"),
    path("topup/", topup_views.topup_page, name="topup"),
]

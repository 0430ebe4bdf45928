"""/api/v1/: key-authenticated, host-independent (mounted on the console and on every portal)."""

from django.urls import path, re_path

from . import api, api_docs, api_payments, api_reload, api_reports, api_views

app_name = "api_v1"

urlpatterns = [
    path("openapi.yaml", api_docs.openapi_document, name="openapi"),
    path("account", api_views.account, name="account"),
    path("billing/balance", api_views.balance, name="balance"),
    path("billing/usage", api_reports.billing_usage, name="billing_usage"),
    path("billing/usage/detailed", api_reports.billing_usage_detailed, name="billing_usage_detailed"),
    path("billing/transactions", api_reports.transactions, name="transactions"),
    path("billing/invoices", api_reports.invoices, name="invoices"),
    path("billing/invoices/<str:document_id>/pdf", api_reports.invoice_pdf, name="invoice_pdf"),
    path("billing/alerts", api_reports.alerts, name="alerts"),
    path("billing/payment-methods", api_payments.payment_methods, name="payment_methods"),
    path("billing/payment-methods/<str:method_id>", api_payments.payment_method, name="payment_method"),
    path(
        "billing/payment-methods/<str:method_id>/default",
        api_payments.payment_method_default,
        name="payment_method_default",
    ),
    path("billing/topup", api_payments.topup, name="topup"),
    path("billing/auto-reload", api_reload.auto_reload, name="auto_reload"),
    path("usage", api_views.usage, name="usage"),
    path("calls/authorize", api_views.authorize, name="authorize"),
    # Last: anything else under /api/v1/ is a JSON 404, never a Django page.
    re_path(r"^.*$", api.not_found),
]

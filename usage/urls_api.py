"""/api/v1/ endpoints of usage and below: key-authenticated, host-independent.

Mounted through portal/urls_api.py, which adds the endpoints of higher layers (ops) and then the JSON 404.
"""

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
]

# Last, after every endpoint (portal/urls_api.py adds those of higher layers in between).
not_found_patterns = [
    # Anything else under /api/v1/ is a JSON 404, never a Django page.
    re_path(r"^.*$", api.not_found),
]

"""Settings > Billing on an agency's portal host."""

from django.urls import path

from . import portal_views as views

app_name = "invoices"

urlpatterns = [
    path("", views.billing_settings, name="settings"),
    path("invoices/<int:invoice_id>.pdf", views.invoice_download, name="invoice_pdf"),
    path("credit-notes/<int:note_id>.pdf", views.credit_note_download, name="credit_note_pdf"),
]

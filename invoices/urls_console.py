"""Invoices in the agency console (mounted at console/invoices/ on the console host)."""

from django.urls import path

from . import console_views as views

app_name = "console_invoices"

urlpatterns = [
    path("", views.documents, name="documents"),
    path("invoices.csv", views.documents_csv, name="documents_csv"),
    path("seller/", views.seller, name="seller"),
    path("billing/", views.billing, name="billing"),
    path("<int:invoice_id>.pdf", views.invoice_download, name="invoice_pdf"),
    path("credit-notes/<int:note_id>.pdf", views.credit_note_download, name="credit_note_pdf"),
]

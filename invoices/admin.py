from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import BillingDetails, CreditNote, Invoice, SellerDetails


class _Issued(ReadOnlyAdmin):
    """Issued documents never change; a correction is a credit note."""


@admin.register(Invoice)
class InvoiceAdmin(_Issued):
    list_display = ["number", "issue_date", "agency", "buyer_name", "gross_cents", "currency", "vat_treatment"]
    list_select_related = ["agency"]
    list_filter = ["vat_treatment"]
    search_fields = ["number", "buyer_name", "buyer_vat_id"]


@admin.register(CreditNote)
class CreditNoteAdmin(_Issued):
    list_display = ["number", "issue_date", "agency", "invoice", "gross_cents", "currency"]
    list_select_related = ["agency", "invoice"]
    search_fields = ["number", "invoice__number"]


@admin.register(BillingDetails)
class BillingDetailsAdmin(admin.ModelAdmin):
    list_display = ["company_name", "organization", "agency", "country", "vat_id"]
    search_fields = ["company_name", "vat_id"]


@admin.register(SellerDetails)
class SellerDetailsAdmin(admin.ModelAdmin):
    list_display = ["company_name", "agency", "country", "vat_id", "invoice_prefix", "prices_include_vat"]
    search_fields = ["company_name", "vat_id"]

import re

from django import forms
from django.core.exceptions import ValidationError

from . import vat
from .countries import CHOICES, country_name
from .models import PREFIX_PATTERN, BillingDetails, SellerDetails

ADDRESS_FIELDS = ["company_name", "address_line1", "address_line2", "postal_code", "city", "country", "vat_id"]
ADDRESS_ERRORS = {
    "company_name": {"required": "Enter the name that goes on invoices."},
    "address_line1": {"required": "Enter the street address."},
    "city": {"required": "Enter the city."},
}


class _AddressForm(forms.ModelForm):
    country = forms.ChoiceField(
        choices=[("", "Choose a country")] + CHOICES,
        error_messages={
            "required": "Choose the country.",
            "invalid_choice": "Choose a country from the list (%(value)s is not an ISO 3166 country code).",
        },
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        country = data.get("country")
        if country and "vat_id" in data:
            try:
                data["vat_id"] = vat.vat_id_clean(data["vat_id"], country)
            except vat.InvalidVatId as exc:
                self.add_error("vat_id", str(exc))
        return data


class BillingDetailsForm(_AddressForm):
    """A buyer's details for its invoices. A VAT ID is checked (format, check digit, country), not looked up."""

    class Meta:
        model = BillingDetails
        fields = ADDRESS_FIELDS
        error_messages = ADDRESS_ERRORS
        help_texts = {
            "vat_id": "EU businesses: with a valid VAT ID of another EU country than ours, reverse charge "
            "applies (0 % VAT). Leave empty if you buy as a private person."
        }


class SellerDetailsForm(_AddressForm):
    """What an agency prints on its invoices, and how its package prices treat VAT."""

    prices_include_vat = forms.TypedChoiceField(
        label="Package prices",
        coerce=lambda value: value == "True",
        widget=forms.RadioSelect,
        choices=[
            (True, "include VAT (clients pay the package price)"),
            (False, "exclude VAT (VAT is added on top at checkout)"),
        ],
    )

    class Meta:
        model = SellerDetails
        fields = ADDRESS_FIELDS + ["invoice_prefix", "prices_include_vat"]
        error_messages = ADDRESS_ERRORS
        labels = {"company_name": "Legal name", "invoice_prefix": "Invoice number prefix"}

    def clean_invoice_prefix(self):
        prefix = self.cleaned_data["invoice_prefix"].strip().upper()
        if not re.fullmatch(PREFIX_PATTERN, prefix):
            raise ValidationError("Use 2 to 10 capital letters or digits, for example ACME.")
        return prefix

    def clean(self):
        data = super().clean()
        country = data.get("country")
        if country in vat.EU_COUNTRIES and not data.get("vat_id") and "vat_id" not in self.errors:
            self.add_error(
                "vat_id", f"A seller in {country_name(country)} prints its VAT ID on its invoices. Enter it."
            )
        return data

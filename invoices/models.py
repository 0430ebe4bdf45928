"""Billing details, seller details, invoices and credit notes.

An invoice or credit note is a legal document: once issued it is never
changed (the save() guard here and a database trigger refuse updates) and a
correction is a credit note. It copies the seller's and buyer's details and
the VAT decision at issue time, so later edits of either party's details
change nothing already issued. Money is integer minor units.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from agencies.models import Agency, Organization

from . import vat

COUNTRY_PATTERN = r"^[A-Z]{2}$"
PREFIX_PATTERN = r"^[A-Z0-9]{2,10}$"


class VatTreatment(models.TextChoices):
    DOMESTIC = vat.Treatment.DOMESTIC, "Domestic"
    EU_CONSUMER = vat.Treatment.EU_CONSUMER, "EU customer without VAT ID (destination country VAT)"
    REVERSE_CHARGE = vat.Treatment.REVERSE_CHARGE, "Reverse charge"
    OUTSIDE_EU = vat.Treatment.OUTSIDE_EU, "Outside the EU"


class Immutable(Exception):
    """An issued invoice or credit note cannot be changed or deleted."""


class Address(models.Model):
    company_name = models.CharField("Company or full name", max_length=200)
    address_line1 = models.CharField("Address", max_length=200)
    address_line2 = models.CharField("Address (line 2)", max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, help_text="ISO 3166 alpha-2 code, e.g. DE.")
    vat_id = models.CharField("VAT ID", max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def address_lines(self) -> list[str]:
        from .countries import country_name

        city = " ".join(part for part in (self.postal_code, self.city) if part)
        return [line for line in (self.address_line1, self.address_line2, city, country_name(self.country)) if line]


class BillingDetails(Address):
    """Who a buyer is, for its invoices: a client organization, or an agency buying from the platform."""

    organization = models.OneToOneField(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="billing_details",
    )
    agency = models.OneToOneField(
        Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="billing_details"
    )
    # The organization's customer on its agency's Stripe account (a cache: a missing one is made anew).
    stripe_customer_id = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name_plural = "billing details"
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False) & Q(agency__isnull=True))
                | (Q(organization__isnull=True) & Q(agency__isnull=False)),
                name="billing_details_one_owner",
            ),
            models.CheckConstraint(condition=Q(country__regex=COUNTRY_PATTERN), name="billing_details_country_code"),
            models.CheckConstraint(condition=Q(vat_id__regex=r"^[A-Z0-9]*$"), name="billing_details_vat_id_compact"),
        ]

    def __str__(self):
        return self.company_name


class SellerDetails(Address):
    """What an agency prints on the invoices it issues to its clients."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="seller_details")
    invoice_prefix = models.CharField(
        max_length=10,
        help_text="2–10 capital letters or digits, e.g. ACME: invoices are numbered ACME-2026-000001.",
    )
    prices_include_vat = models.BooleanField(
        default=True,
        help_text="Whether your package prices include VAT, or VAT is added on top at checkout.",
    )

    class Meta:
        verbose_name_plural = "seller details"
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=COUNTRY_PATTERN), name="seller_details_country_code"),
            models.CheckConstraint(condition=Q(invoice_prefix__regex=PREFIX_PATTERN), name="seller_details_prefix"),
            models.CheckConstraint(condition=Q(vat_id__regex=r"^[A-Z0-9]*$"), name="seller_details_vat_id_compact"),
        ]

    def __str__(self):
        return self.company_name


class DocumentCounter(models.Model):
    """The last number used in one gapless sequence: per issuer, series and year.

    Locked with SELECT … FOR UPDATE in the transaction that issues the
    document, so concurrent issuers queue and a rolled-back issue gives its
    number back. `scope` is "agency:<id>" or "platform".
    """

    class Series(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"

    scope = models.CharField(max_length=40)
    series = models.CharField(max_length=20, choices=Series.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "series", "year"], name="document_counter_unique"),
        ]

    def __str__(self):
        return f"{self.scope} {self.series} {self.year}: {self.last_number}"


class _Document(models.Model):
    """Fields and rules an invoice and a credit note share."""

    number = models.CharField(max_length=40)
    sequence = models.PositiveIntegerField()
    issue_date = models.DateField()
    issued_at = models.DateTimeField(default=timezone.now)
    currency = models.CharField(max_length=3)
    net_cents = models.BigIntegerField()
    vat_cents = models.BigIntegerField()
    gross_cents = models.BigIntegerField()
    vat_rate_bp = models.PositiveIntegerField(help_text="2100 = 21 %")
    vat_treatment = models.CharField(max_length=20, choices=VatTreatment.choices)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # Issued documents are never edited: a correction is a credit note.
        if not self._state.adding:
            raise Immutable(f"{self._meta.verbose_name} {self.number} is issued and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Immutable(f"{self._meta.verbose_name} {self.number} is issued and cannot be deleted.")

    @property
    def vat_rate_display(self) -> str:
        return vat.format_rate(self.vat_rate_bp)


def _money_constraints(prefix: str) -> list:
    return [
        models.CheckConstraint(
            condition=Q(net_cents__gte=0) & Q(vat_cents__gte=0) & Q(gross_cents__gt=0),
            name=f"{prefix}_amounts_positive",
        ),
        models.CheckConstraint(
            condition=Q(gross_cents=F("net_cents") + F("vat_cents")), name=f"{prefix}_net_plus_vat_is_gross"
        ),
        models.CheckConstraint(condition=Q(vat_rate_bp__lt=10_000), name=f"{prefix}_vat_rate_range"),
        models.CheckConstraint(condition=Q(vat_treatment__in=VatTreatment.values), name=f"{prefix}_treatment_known"),
        models.CheckConstraint(
            condition=Q(vat_treatment__in=[VatTreatment.DOMESTIC, VatTreatment.EU_CONSUMER])
            | (Q(vat_rate_bp=0) & Q(vat_cents=0)),
            name=f"{prefix}_no_vat_without_rate",
        ),
        models.CheckConstraint(condition=Q(currency__in=["EUR", "USD", "GBP"]), name=f"{prefix}_currency_known"),
        models.CheckConstraint(condition=Q(sequence__gt=0), name=f"{prefix}_sequence_positive"),
    ]


class Invoice(_Document):
    """One invoice per paid purchase.

    `agency` is the agency the invoice belongs to. The buyer is `organization`
    (the agency is the seller) or, when it is empty, the agency itself buying
    call minutes from the platform (the platform is the seller, numbered in the
    platform's own sequence; `purchase` is then the minute purchase).
    """

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="invoices")
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    purchase = models.OneToOneField(
        "billing.Purchase",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice",
    )
    seller_name = models.CharField(max_length=200)
    seller_address = models.TextField(blank=True)
    seller_country = models.CharField(max_length=2, blank=True)
    seller_vat_id = models.CharField(max_length=20, blank=True)
    buyer_name = models.CharField(max_length=200)
    buyer_address = models.TextField(blank=True)
    buyer_country = models.CharField(max_length=2, blank=True)
    buyer_vat_id = models.CharField(max_length=20, blank=True)
    buyer_email = models.CharField(max_length=254, blank=True)
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    vat_country = models.CharField(max_length=2, blank=True, help_text="Whose rate applies; empty when no VAT.")
    vat_rates_as_of = models.DateField(help_text="Date of the rate table the decision used.")
    prices_include_vat = models.BooleanField()
    legal_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = _money_constraints("invoice") + [
            models.UniqueConstraint(fields=["agency", "number"], name="invoice_number_unique_per_agency"),
            models.UniqueConstraint(
                fields=["number"], condition=Q(organization__isnull=True), name="invoice_platform_number_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-issued_at"], name="invoice_org_recent"),
            models.Index(fields=["agency", "-issued_at"], name="invoice_agency_recent"),
        ]

    def __str__(self):
        return self.number

    @property
    def sold_by_platform(self) -> bool:
        return self.organization_id is None


class CreditNote(_Document):
    """Credits (part of) an invoice when its payment is refunded. Its parties are the invoice's."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="credit_notes")
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
    )
    reason = models.CharField(max_length=200)
    # The invoice's gross amount credited by this note and the ones before it: one note per refund total.
    credited_total_cents = models.BigIntegerField()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = _money_constraints("credit_note") + [
            models.UniqueConstraint(fields=["agency", "number"], name="credit_note_number_unique_per_agency"),
            models.UniqueConstraint(
                fields=["number"], condition=Q(organization__isnull=True), name="credit_note_platform_number_unique"
            ),
            models.UniqueConstraint(fields=["invoice", "credited_total_cents"], name="credit_note_once_per_total"),
            models.CheckConstraint(
                condition=Q(credited_total_cents__gte=F("gross_cents")), name="credit_note_total_covers_it"
            ),
        ]

    def __str__(self):
        return self.number

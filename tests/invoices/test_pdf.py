"""Invoice and credit note PDFs: they open, and their text holds the number, amounts and VAT line."""

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from invoices import logo, pdf
from invoices.models import CreditNote, Invoice
from tests.billing.flows import deliver_last
from tests.conftest import NOON, host, instant
from tests.invoices.conftest import billing_set, paid, seller_set
from tests.stripe_fixtures import closed_port

# The PDFs spell out numbers, which carry the year of issue: every document here is issued at NOON.
pytestmark = pytest.mark.now(NOON)
YEAR = instant(NOON).year


def _read(content: bytes) -> tuple[PdfReader, str]:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def invoiced(client, stripe_agency, make_client_user):
    """A domestic invoice (DE seller, DE buyer, prices include 19 % VAT) and its client logged in."""
    agency = stripe_agency(company_name="Sunrise Calls")
    seller_set(agency, country="DE", name="Sunrise Calls GmbH")
    user = make_client_user(agency)
    billing_set(user.organization, country="DE", vat_id="DE136695976", name="Kunde GmbH & Co. KG")
    purchase = paid(client, agency, user)
    client.force_login(user)
    return agency, purchase, Invoice.objects.get()


def test_the_client_downloads_an_invoice_pdf_with_number_amounts_and_vat_line(client, invoiced):
    agency, _, invoice = invoiced
    response = client.get(f"/settings/billing/invoices/{invoice.pk}.pdf", HTTP_HOST=host(agency))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="ACME-{YEAR}-000001.pdf"'
    reader, text = _read(response.content)
    assert len(reader.pages) == 1
    assert f"ACME-{YEAR}-000001" in text and "Invoice" in text
    assert "€33.61" in text and "€6.39" in text and "€40.00" in text
    assert "VAT 19 % (Germany)" in text
    assert "Sunrise Calls GmbH" in text and "Hauptstraße 1" in text and "VAT ID: DE136695976" in text
    assert "Kunde GmbH & Co. KG" in text and "100 call credits" in text


def test_a_reverse_charge_invoice_pdf_carries_the_legal_note(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="DE")
    user = make_client_user(agency)
    billing_set(user.organization, country="NL", vat_id="NL004495445B01")
    paid(client, agency, user)
    invoice = Invoice.objects.get()
    client.force_login(user)
    _, text = _read(client.get(f"/settings/billing/invoices/{invoice.pk}.pdf", HTTP_HOST=host(agency)).content)
    assert "VAT 0 % (reverse charge)" in text and "€0.00" in text and "€40.00" in text
    assert "Reverse charge: VAT to be accounted for by the recipient" in text
    assert "VAT ID: NL004495445B01" in text


def test_a_credit_note_pdf_names_the_invoice_it_credits(client, invoiced):
    agency, purchase, _invoice = invoiced
    agency.stripe.refund(purchase.stripe_payment_intent_id)
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    note = CreditNote.objects.get()
    response = client.get(f"/settings/billing/credit-notes/{note.pk}.pdf", HTTP_HOST=host(agency))
    assert response.status_code == 200
    _, text = _read(response.content)
    assert "Credit note" in text and f"ACME-CN-{YEAR}-000001" in text
    assert f"Credits invoice ACME-{YEAR}-000001" in text
    assert "€33.61" in text and "€6.39" in text and "Total credited" in text and "€40.00" in text


def test_the_agency_logo_is_drawn_when_it_can_be_had(invoiced):
    _, _, invoice = invoiced
    with_logo, _ = _read(pdf.invoice_pdf(invoice, brand="Sunrise Calls", logo=_png()))
    assert len(with_logo.pages[0].images) == 1
    without, text = _read(pdf.invoice_pdf(invoice, brand="Sunrise Calls", logo=b"not an image"))
    assert len(without.pages[0].images) == 0 and "Sunrise Calls" in text


def test_a_logo_that_cannot_be_fetched_leaves_the_name_alone(client, invoiced):
    agency, _, invoice = invoiced
    agency.logo_url = f"https://127.0.0.1:{closed_port()}/logo.png"
    agency.save(update_fields=["logo_url"])
    response = client.get(f"/settings/billing/invoices/{invoice.pk}.pdf", HTTP_HOST=host(agency))
    assert response.status_code == 200
    reader, text = _read(response.content)
    assert len(reader.pages[0].images) == 0 and "Sunrise Calls" in text


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/logo.png",  # not https
        "https://127.0.0.1/logo.png",  # our own machine
        "https://10.0.0.8/logo.png",  # a private network
        "https://169.254.169.254/latest/meta-data",  # a cloud metadata service
        "https://[::1]/logo.png",
        "",
    ],
)
def test_logo_urls_that_are_not_public_https_are_never_fetched(url):
    assert logo.logo_fetch(url) is None


def test_the_agency_downloads_its_invoice_from_the_console(client, console, invoiced):
    agency, _, invoice = invoiced
    console.force_login(agency.admin)
    page = console.get("/console/invoices/")
    assert page.status_code == 200 and f"ACME-{YEAR}-000001" in page.text and "Kunde GmbH" in page.text
    response = console.get(f"/console/invoices/{invoice.pk}.pdf")
    assert response.status_code == 200
    assert f"ACME-{YEAR}-000001" in _read(response.content)[1]


def test_without_a_unicode_font_the_pdf_falls_back_to_latin_1(settings, invoiced):
    _, _, invoice = invoiced
    settings.INVOICE_PDF_FONT = "/nonexistent/font.ttf"
    _, text = _read(pdf.invoice_pdf(invoice, brand="Sunrise Calls"))
    assert f"ACME-{YEAR}-000001" in text and "EUR 33.61" in text and "VAT 19 % (Germany)" in text
    assert "Hauptstraße 1" in text  # ß is Latin-1

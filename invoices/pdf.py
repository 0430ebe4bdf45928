"""Invoice and credit note PDFs (fpdf2), under the agency's brand.

Everything printed comes from the issued document's own fields; only the
brand (name, logo) is today's. The logo is passed in as bytes (the view
fetches it, see logo.py); without one the agency's name stands alone.
"""

import io
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

from core.money import money_format

from .countries import country_name
from .logo import image_ok
from .models import CreditNote, Invoice, VatTreatment

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
WIDTH = 180  # A4 minus 15 mm margins
LOGO_BOX = (80, 16)  # mm: the logo fits in it, left-aligned


@dataclass
class _Sheet:
    title: str
    number: str
    issue_date: str
    refers_to: str
    brand: str
    seller: list[str]
    buyer: list[str]
    description: str
    currency: str
    net: int
    vat: int
    gross: int
    vat_label: str
    total_label: str
    notes: list[str]


def _vat_label(doc) -> str:
    if doc.vat_treatment == VatTreatment.REVERSE_CHARGE:
        return "VAT 0 % (reverse charge)"
    if doc.vat_treatment == VatTreatment.OUTSIDE_EU:
        return "VAT 0 % (not applicable)"
    country = getattr(doc, "vat_country", "") or getattr(getattr(doc, "invoice", None), "vat_country", "")
    return f"VAT {doc.vat_rate_display} ({country_name(country)})" if country else f"VAT {doc.vat_rate_display}"


def _party(name: str, address: str, vat_id: str, email: str = "") -> list[str]:
    lines = [name] + [line for line in address.splitlines() if line]
    if vat_id:
        lines.append(f"VAT ID: {vat_id}")
    if email:
        lines.append(email)
    return lines


def _invoice_sheet(invoice: Invoice, brand: str) -> _Sheet:
    notes = [invoice.legal_note] if invoice.legal_note else []
    notes.append("Paid in full through Stripe Checkout." if invoice.purchase_id else "")
    return _Sheet(
        title="Invoice",
        number=invoice.number,
        issue_date=invoice.issue_date.isoformat(),
        refers_to="",
        brand=brand,
        seller=_party(invoice.seller_name, invoice.seller_address, invoice.seller_vat_id),
        buyer=_party(invoice.buyer_name, invoice.buyer_address, invoice.buyer_vat_id, invoice.buyer_email),
        description=invoice.description,
        currency=invoice.currency,
        net=invoice.net_cents,
        vat=invoice.vat_cents,
        gross=invoice.gross_cents,
        vat_label=_vat_label(invoice),
        total_label="Total",
        notes=[note for note in notes if note],
    )


def _credit_note_sheet(note: CreditNote, brand: str) -> _Sheet:
    invoice = note.invoice
    sheet = _invoice_sheet(invoice, brand)
    sheet.title, sheet.number, sheet.issue_date = "Credit note", note.number, note.issue_date.isoformat()
    sheet.refers_to = f"Credits invoice {invoice.number} of {invoice.issue_date.isoformat()}"
    sheet.description = note.reason
    sheet.net, sheet.vat, sheet.gross = note.net_cents, note.vat_cents, note.gross_cents
    sheet.vat_label, sheet.total_label = _vat_label(note), "Total credited"
    sheet.notes = [invoice.legal_note] if invoice.legal_note else []
    sheet.notes.append("The credited amount is refunded to the original payment method.")
    return sheet


class _Pdf(FPDF):
    def __init__(self):
        super().__init__(format="A4")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=15)
        self.unicode = _load_font(self)

    def text_(self, value: str) -> str:
        # The built-in fallback font only knows Latin-1.
        if self.unicode:
            return value
        return value.replace("€", "EUR ").encode("latin-1", "replace").decode("latin-1")

    def line_(self, value: str, *, size: float = 10, bold: bool = False, align: str = "L", width: float = 0):
        self.set_font(self.font_family, "B" if bold else "", size)
        self.cell(width, size * 0.5, self.text_(value), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _font_files() -> tuple[Path, Path] | None:
    if settings.INVOICE_PDF_FONT:
        font = Path(settings.INVOICE_PDF_FONT)
        return (font, font) if font.is_file() else None
    regular, bold = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
    return (regular, bold) if regular.is_file() and bold.is_file() else None


def _load_font(pdf: FPDF) -> bool:
    files = _font_files()
    if files is None:
        pdf.set_font("helvetica", size=10)
        return False
    pdf.add_font("invoice", "", str(files[0]))
    pdf.add_font("invoice", "B", str(files[1]))
    pdf.set_font("invoice", size=10)
    return True


def _header(pdf: _Pdf, sheet: _Sheet, logo: bytes | None) -> None:
    top = pdf.get_y()
    if logo and image_ok(logo):
        with Image.open(io.BytesIO(logo)) as image:
            aspect = image.width / image.height
        width = min(LOGO_BOX[0], LOGO_BOX[1] * aspect)  # fit the box, left-aligned
        pdf.image(io.BytesIO(logo), x=15, y=top, w=width, h=width / aspect)
        pdf.set_xy(15, top + width / aspect + 2)
        pdf.line_(sheet.brand, size=10, bold=True, width=90)
    else:
        pdf.line_(sheet.brand, size=18, bold=True, width=90)
    bottom = pdf.get_y()
    pdf.set_xy(105, top)
    pdf.set_font(pdf.font_family, "B", 18)
    pdf.cell(90, 9, pdf.text_(sheet.title), align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(pdf.font_family, "", 10)
    for line in (f"Number: {sheet.number}", f"Date: {sheet.issue_date}", sheet.refers_to):
        if line:
            pdf.set_x(105)
            pdf.cell(90, 5, pdf.text_(line), align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(max(bottom, pdf.get_y()) + 8)


def _parties(pdf: _Pdf, sheet: _Sheet) -> None:
    top, bottoms = pdf.get_y(), []
    for x, heading, lines in ((15, "From", sheet.seller), (105, "Bill to", sheet.buyer)):
        pdf.set_xy(x, top)
        pdf.set_font(pdf.font_family, "B", 9)
        pdf.cell(85, 5, heading.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
        for index, line in enumerate(lines):
            pdf.set_font(pdf.font_family, "B" if index == 0 else "", 10)
            pdf.multi_cell(85, 5, pdf.text_(line), new_x=XPos.LEFT, new_y=YPos.NEXT)
        bottoms.append(pdf.get_y())
    pdf.set_y(max(bottoms) + 8)


def _amounts(pdf: _Pdf, sheet: _Sheet) -> None:
    fmt = lambda cents: pdf.text_(money_format(cents, sheet.currency))  # noqa: E731
    pdf.set_font(pdf.font_family, "B", 10)
    pdf.set_fill_color(238, 240, 244)
    pdf.cell(130, 8, "Description", fill=True)
    pdf.cell(50, 8, "Amount (net)", align="R", fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.font_family, "", 10)
    pdf.cell(130, 8, pdf.text_(sheet.description))
    pdf.cell(50, 8, fmt(sheet.net), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    for label, cents, bold in (
        ("Net", sheet.net, False),
        (sheet.vat_label, sheet.vat, False),
        (sheet.total_label, sheet.gross, True),
    ):
        pdf.set_font(pdf.font_family, "B" if bold else "", 11 if bold else 10)
        pdf.set_x(95)
        pdf.cell(60, 7, pdf.text_(label), border="T" if bold else 0)
        pdf.cell(40, 7, fmt(cents), align="R", border="T" if bold else 0, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    pdf.set_font(pdf.font_family, "", 9)
    for note in sheet.notes:
        pdf.multi_cell(WIDTH, 5, pdf.text_(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _render(sheet: _Sheet, logo: bytes | None) -> bytes:
    pdf = _Pdf()
    pdf.set_title(f"{sheet.title} {sheet.number}")
    pdf.set_author(pdf.text_(sheet.seller[0]))
    pdf.set_creator(pdf.text_(sheet.brand))
    pdf.add_page()
    _header(pdf, sheet, logo)
    _parties(pdf, sheet)
    _amounts(pdf, sheet)
    return bytes(pdf.output())


def invoice_pdf(invoice: Invoice, *, brand: str, logo: bytes | None = None) -> bytes:
    return _render(_invoice_sheet(invoice, brand), logo)


def credit_note_pdf(note: CreditNote, *, brand: str, logo: bytes | None = None) -> bytes:
    return _render(_credit_note_sheet(note, brand), logo)

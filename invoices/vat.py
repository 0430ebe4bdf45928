"""VAT: the EU-27 rate table, who pays which VAT, VAT ID checks, and integer rounding.

Everything about VAT lives here and is pure (no database, no I/O), so it can
be tested case by case. The decision is taken once, when a purchase is paid,
and copied onto the invoice; nothing recomputes an issued invoice.

Rules (see README, "Invoices and VAT"):
- a business with a valid VAT ID in an EU country other than the seller's:
  reverse charge, 0 %, with the legal note;
- any other buyer in the EU: the standard rate of the buyer's country
  (the seller's own country: "domestic");
- a buyer outside the EU: no VAT.

Money is integer minor units. VAT is rounded once per invoice, half-up, and
net + VAT = gross holds exactly.
"""

from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat
from stdnum.util import get_cc_module

from core.money import round_half_up

from .countries import country_name

# Standard VAT rates of the 27 EU member states, in basis points (2100 = 21 %),
# as in force on RATES_AS_OF. Review when a member state changes its rate: the
# new rate applies to invoices issued from then on; issued invoices keep theirs.
RATES_AS_OF = date(2026, 1, 1)
EU_STANDARD_RATES_BP = {
    "AT": 2000,
    "BE": 2100,
    "BG": 2000,
    "CY": 1900,
    "CZ": 2100,
    "DE": 1900,
    "DK": 2500,
    "EE": 2400,
    "ES": 2100,
    "FI": 2550,
    "FR": 2000,
    "GR": 2400,
    "HR": 2500,
    "HU": 2700,
    "IE": 2300,
    "IT": 2200,
    "LT": 2100,
    "LU": 1700,
    "LV": 2100,
    "MT": 1800,
    "NL": 2100,
    "PL": 2300,
    "PT": 2300,
    "RO": 2100,
    "SE": 2500,
    "SI": 2200,
    "SK": 2300,
}
EU_COUNTRIES = frozenset(EU_STANDARD_RATES_BP)
# VAT IDs carry the country's ISO code as prefix, except Greece's: EL.
VAT_PREFIX_EXCEPTIONS = {"GR": "EL"}
_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Article 196 of Council Directive 2006/112/EC)."
)
OUTSIDE_EU_NOTE = "No VAT charged: the customer is established outside the EU (place of supply outside the EU)."
NO_COUNTRY_NOTE = "No VAT charged: neither the customer's nor the seller's country is known."


class Treatment:
    DOMESTIC = "domestic"
    EU_CONSUMER = "eu_consumer"
    REVERSE_CHARGE = "reverse_charge"
    OUTSIDE_EU = "outside_eu"


@dataclass(frozen=True)
class Decision:
    treatment: str
    rate_bp: int
    country: str  # whose rate applies ("" when no VAT is charged)
    note: str


@dataclass(frozen=True)
class Amounts:
    net: int
    vat: int
    gross: int


class InvalidVatId(ValueError):
    """A VAT ID that is malformed, fails its check digit or belongs to another country."""


# --- Amounts (rounded once, half up: core.money) --------------------------------


def vat_on_net(net: int, rate_bp: int) -> int:
    return round_half_up(net * rate_bp, 10_000)


def vat_in_gross(gross: int, rate_bp: int) -> int:
    return round_half_up(gross * rate_bp, 10_000 + rate_bp)


def amounts_from_price(*, price: int, rate_bp: int, prices_include_vat: bool) -> Amounts:
    """What the customer pays for a package priced `price`: VAT inside it, or added on top."""
    if prices_include_vat:
        return amounts_from_gross(gross=price, rate_bp=rate_bp)
    vat = vat_on_net(price, rate_bp)
    return Amounts(net=price, vat=vat, gross=price + vat)


def amounts_from_gross(*, gross: int, rate_bp: int) -> Amounts:
    """Split what was paid into net and VAT.

    For a price that excluded VAT this gives back the same net and VAT as
    amounts_from_price did at checkout (the exact VAT share of net + rounded VAT
    lies in the same rounding interval), so an invoice can always be split
    from the amount actually charged.
    """
    vat = vat_in_gross(gross, rate_bp)
    return Amounts(net=gross - vat, vat=vat, gross=gross)


def format_rate(rate_bp: int) -> str:
    """2100 -> "21 %", 2550 -> "25.5 %"."""
    whole, rest = divmod(rate_bp, 100)
    return f"{whole} %" if not rest else f"{whole}.{rest:02d}".rstrip("0") + " %"


# --- VAT IDs ------------------------------------------------------------------


def vat_prefix(country: str) -> str:
    return VAT_PREFIX_EXCEPTIONS.get(country, country)


def _prefix_owner(value: str) -> str | None:
    """The country a VAT ID's two-letter prefix names, when it is an EU prefix (or GB, CH, NO)."""
    prefix = value[:2]
    country = _PREFIX_COUNTRY.get(prefix, prefix)
    if country in EU_COUNTRIES or country in {"GB", "CH", "NO"}:
        return country
    return None


def vat_id_clean(value: str, country: str) -> str:
    """The VAT ID in its compact form (prefix included for EU IDs), or InvalidVatId saying why.

    An empty value is allowed (no VAT ID). An EU ID typed without its prefix
    gets the country's prefix; Greece's "GR" is written "EL".
    """
    raw = "".join(ch for ch in (value or "").upper() if ch.isalnum())
    if not raw:
        return ""
    name = country_name(country)
    if country in EU_COUNTRIES:
        if raw[:2].isalpha() and raw[:2] != vat_prefix(country):
            owner = _prefix_owner(raw)
            if owner == country:  # "GR…" for Greece
                raw = vat_prefix(country) + raw[2:]
            elif owner:
                raise InvalidVatId(
                    f"This VAT ID starts with {raw[:2]} ({country_name(owner)}), but the billing country is {name}, "
                    f"whose VAT IDs start with {vat_prefix(country)}. Enter a VAT ID for {name} or change the country."
                )
        if not raw.startswith(vat_prefix(country)):
            raw = vat_prefix(country) + raw
        return _validated(eu_vat, raw, name)
    owner = _prefix_owner(raw) if raw[:2].isalpha() else None
    if owner and owner != country:
        raise InvalidVatId(
            f"This VAT ID starts with {raw[:2]} ({country_name(owner)}), but the billing country "
            f"is {name}. Enter a VAT ID for {name} or change the country."
        )
    module = get_cc_module(country.lower(), "vat") if country else None
    if module is None:
        raise InvalidVatId(f"VAT IDs for {name} cannot be checked here. Leave the field empty.")
    return _validated(module, raw, name)


def _validated(module, raw: str, country_label: str) -> str:
    try:
        module.validate(raw)
    except stdnum_errors.InvalidChecksum:
        reason = "its check digit is wrong (a typing mistake?)"
    except stdnum_errors.InvalidLength:
        reason = "it has the wrong number of characters"
    except stdnum_errors.ValidationError:
        reason = "its format is wrong"
    else:
        return raw
    raise InvalidVatId(f"This is not a valid VAT ID for {country_label}: {reason}.")


def vat_id_is_valid(value: str, country: str) -> bool:
    try:
        return bool(vat_id_clean(value, country))
    except InvalidVatId:
        return False


# --- The decision -------------------------------------------------------------


def decide(*, seller_country: str, buyer_country: str, buyer_vat_id: str) -> Decision:
    """Which VAT a sale carries. A buyer who gave no country is taken to be in the seller's."""
    buyer_country = buyer_country or seller_country
    if not buyer_country:
        return Decision(Treatment.OUTSIDE_EU, 0, "", NO_COUNTRY_NOTE)
    if buyer_country not in EU_COUNTRIES:
        return Decision(Treatment.OUTSIDE_EU, 0, "", OUTSIDE_EU_NOTE)
    if buyer_country != seller_country and vat_id_is_valid(buyer_vat_id, buyer_country):
        return Decision(Treatment.REVERSE_CHARGE, 0, "", REVERSE_CHARGE_NOTE)
    treatment = Treatment.DOMESTIC if buyer_country == seller_country else Treatment.EU_CONSUMER
    return Decision(treatment, EU_STANDARD_RATES_BP[buyer_country], buyer_country, "")

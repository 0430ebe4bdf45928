"""invoices.vat: who pays which VAT, VAT ID checks, and integer rounding."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from invoices import vat
from invoices.vat import Treatment

DE, NL, FR = "DE136695976", "NL004495445B01", "FR40303265045"


def test_business_with_valid_vat_id_in_another_eu_country_gets_reverse_charge():
    decision = vat.decide(seller_country="DE", buyer_country="NL", buyer_vat_id=NL)
    assert (decision.treatment, decision.rate_bp) == (Treatment.REVERSE_CHARGE, 0)
    assert "Reverse charge" in decision.note and "Article 196" in decision.note


def test_business_in_the_sellers_own_country_pays_domestic_vat():
    decision = vat.decide(seller_country="DE", buyer_country="DE", buyer_vat_id=DE)
    assert (decision.treatment, decision.rate_bp, decision.country) == (Treatment.DOMESTIC, 1900, "DE")
    assert decision.note == ""


def test_consumer_in_another_eu_country_pays_that_countrys_rate():
    decision = vat.decide(seller_country="DE", buyer_country="FR", buyer_vat_id="")
    assert (decision.treatment, decision.rate_bp, decision.country) == (Treatment.EU_CONSUMER, 2000, "FR")
    assert vat.decide(seller_country="DE", buyer_country="FI", buyer_vat_id="").rate_bp == 2550


def test_an_invalid_vat_id_does_not_give_reverse_charge():
    decision = vat.decide(seller_country="DE", buyer_country="NL", buyer_vat_id="NL004495446B01")  # check digit wrong
    assert (decision.treatment, decision.rate_bp) == (Treatment.EU_CONSUMER, 2100)


def test_a_vat_id_of_another_country_than_the_buyers_does_not_give_reverse_charge():
    decision = vat.decide(seller_country="DE", buyer_country="NL", buyer_vat_id=FR)
    assert (decision.treatment, decision.rate_bp) == (Treatment.EU_CONSUMER, 2100)


@pytest.mark.parametrize("vat_id", ["", "GB980780684"])
def test_buyers_outside_the_eu_pay_no_vat(vat_id):
    decision = vat.decide(seller_country="DE", buyer_country="GB", buyer_vat_id=vat_id)
    assert (decision.treatment, decision.rate_bp) == (Treatment.OUTSIDE_EU, 0)
    assert "outside the EU" in decision.note
    assert vat.decide(seller_country="DE", buyer_country="US", buyer_vat_id="").treatment == Treatment.OUTSIDE_EU


def test_a_seller_outside_the_eu_charges_eu_consumers_their_rate_and_businesses_reverse_charge():
    assert vat.decide(seller_country="US", buyer_country="IT", buyer_vat_id="").rate_bp == 2200
    assert (
        vat.decide(seller_country="US", buyer_country="IT", buyer_vat_id="IT00743110157").treatment
        == Treatment.REVERSE_CHARGE
    )


def test_a_buyer_without_country_is_taken_to_be_in_the_sellers_country():
    assert vat.decide(seller_country="NL", buyer_country="", buyer_vat_id="") == vat.Decision(
        Treatment.DOMESTIC, 2100, "NL", ""
    )
    unknown = vat.decide(seller_country="", buyer_country="", buyer_vat_id="")
    assert (unknown.treatment, unknown.rate_bp) == (Treatment.OUTSIDE_EU, 0) and "neither" in unknown.note


def test_the_rate_table_covers_exactly_the_27_member_states_and_has_a_date():
    assert len(vat.EU_STANDARD_RATES_BP) == 27 and "GB" not in vat.EU_COUNTRIES
    assert all(1500 <= rate < 3000 for rate in vat.EU_STANDARD_RATES_BP.values())  # the EU minimum is 15 %
    assert vat.RATES_AS_OF.year >= 2026


# --- VAT IDs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, country, stored",
    [
        ("DE 136 695 976", "DE", "DE136695976"),
        ("136695976", "DE", "DE136695976"),  # the prefix is added
        ("nl004495445b01", "NL", "NL004495445B01"),
        ("EL094259216", "GR", "EL094259216"),
        ("GR094259216", "GR", "EL094259216"),  # Greece writes EL
        ("094259216", "GR", "EL094259216"),
        ("U13585627", "AT", "ATU13585627"),
        ("GB980780684", "GB", "GB980780684"),
        ("", "DE", ""),
    ],
)
def test_valid_vat_ids_are_stored_in_compact_form(typed, country, stored):
    assert vat.vat_id_clean(typed, country) == stored


@pytest.mark.parametrize(
    "typed, country, message",
    [
        ("DE136695977", "DE", "not a valid VAT ID for Germany: its check digit is wrong"),
        ("FR4030326504", "FR", "not a valid VAT ID for France"),
        (
            "NL004495445B01",
            "DE",
            "starts with NL (Netherlands), but the billing country is Germany, whose VAT IDs start with DE",
        ),
        ("EL094259216", "CY", "starts with EL (Greece), but the billing country is Cyprus"),
        ("DE136695976", "US", "starts with DE (Germany), but the billing country is United States"),
        ("12-3456789", "US", "VAT IDs for United States cannot be checked here"),
    ],
)
def test_invalid_and_wrong_country_vat_ids_are_refused_with_the_reason(typed, country, message):
    with pytest.raises(vat.InvalidVatId, match=message.replace("(", r"\(").replace(")", r"\)")):
        vat.vat_id_clean(typed, country)


# --- Amounts ------------------------------------------------------------------


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    "price, rate_bp, net, vat_cents",
    [
        (4000, 1900, 4000, 760),
        (150, 1900, 150, 29),  # 28.5 rounds up (banker's rounding would give 28)
        (50, 1900, 50, 10),  # 9.5 -> 10
        (999, 2550, 999, 255),  # 254.745 -> 255
        (1, 2100, 1, 0),
        (4000, 0, 4000, 0),
    ],
)
def test_prices_excluding_vat_add_vat_rounded_half_up_once(price, rate_bp, net, vat_cents):
    amounts = vat.amounts_from_price(price=price, rate_bp=rate_bp, prices_include_vat=False)
    assert (amounts.net, amounts.vat, amounts.gross) == (net, vat_cents, net + vat_cents)


@pytest.mark.parametrize(
    "price, rate_bp, vat_cents",
    [
        (4000, 1900, 639),  # 638.655… -> 639
        (4000, 2100, 694),  # 694.214…
        (3, 2000, 1),  # exactly 0.5 -> 1 (banker's rounding would give 0)
        (9, 2000, 2),  # exactly 1.5 -> 2
        (1999, 2550, 406),  # 406.175…
        (4000, 0, 0),
    ],
)
def test_prices_including_vat_split_out_vat_rounded_half_up_and_add_up(price, rate_bp, vat_cents):
    amounts = vat.amounts_from_price(price=price, rate_bp=rate_bp, prices_include_vat=True)
    assert (amounts.vat, amounts.net + amounts.vat, amounts.gross) == (vat_cents, price, price)


@pytest.mark.parametrize("rate_bp", sorted(set(vat.EU_STANDARD_RATES_BP.values())))
def test_net_plus_vat_is_gross_for_every_amount_in_both_modes(rate_bp):
    for price in list(range(1, 1200)) + [4000, 17_500, 99_999, 1_000_000]:
        included = vat.amounts_from_price(price=price, rate_bp=rate_bp, prices_include_vat=True)
        assert included.net + included.vat == included.gross == price
        assert included.vat == _half_up(Decimal(price) * rate_bp / (10_000 + rate_bp))
        excluded = vat.amounts_from_price(price=price, rate_bp=rate_bp, prices_include_vat=False)
        assert excluded.net == price and excluded.net + excluded.vat == excluded.gross
        assert excluded.vat == _half_up(Decimal(price) * rate_bp / 10_000)
        # An invoice splits what was charged; for a price that excluded VAT that gives back the same split.
        assert vat.amounts_from_gross(gross=excluded.gross, rate_bp=rate_bp) == excluded


def test_rates_print_without_trailing_zeros():
    assert [vat.format_rate(bp) for bp in (2100, 2550, 0, 2505)] == ["21 %", "25.5 %", "0 %", "25.05 %"]

"""Paid purchases are invoiced once, in the fulfilment transaction, with the VAT decided at payment."""

import pytest
from django.db import DatabaseError, transaction

from billing.models import Purchase
from invoices import services
from invoices.models import CreditNote, Immutable, Invoice, VatTreatment
from tests.billing.flows import bought_and_paid, checkout_start, deliver, deliver_last, success_page
from tests.conftest import NOON, host, instant
from tests.invoices.conftest import SELLER_VAT_ID, billing_set, paid, seller_set

# Numbers carry the year of issue: tests that spell one out issue at NOON (a test that ran across
# New Year's midnight would otherwise issue in one year and expect the other).
YEAR = instant(NOON).year


@pytest.mark.now(NOON)
def test_a_paid_purchase_gets_exactly_one_invoice_however_often_it_is_fulfilled(
    client, stripe_agency, make_client_user
):
    agency = stripe_agency()
    seller_set(agency)
    user = make_client_user(agency)
    purchase = paid(client, agency, user)
    assert success_page(client, agency, purchase).status_code == 200
    assert deliver(client, agency, agency.stripe.last_delivery("checkout.session.completed")).status_code == 200

    invoice = Invoice.objects.get()
    assert invoice.purchase == purchase and invoice.organization_id == user.organization_id
    assert invoice.number == f"ACME-{YEAR}-000001" and invoice.sequence == 1
    assert invoice.gross_cents == purchase.amount_cents == 4000 and invoice.currency == "EUR"
    assert invoice.buyer_email == user.email and invoice.description.startswith("100 call credits")


def test_an_unpaid_or_mismatched_purchase_gets_no_invoice(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    bought_and_paid(client, agency, user, delayed=True)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    bought_and_paid(client, agency, user, amount_total=1)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    assert sorted(Purchase.objects.values_list("status", flat=True)) == ["mismatch", "processing"]
    assert not Invoice.objects.exists()


def test_reverse_charge_invoice_copies_both_parties_and_keeps_them(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="DE")
    user = make_client_user(agency)
    billing_set(user.organization, country="NL", vat_id="NL004495445B01", name="Client BV")
    paid(client, agency, user)

    invoice = Invoice.objects.get()
    assert (invoice.vat_treatment, invoice.vat_rate_bp) == (VatTreatment.REVERSE_CHARGE, 0)
    assert (invoice.net_cents, invoice.vat_cents, invoice.gross_cents) == (4000, 0, 4000)
    assert "Reverse charge" in invoice.legal_note
    assert (invoice.seller_name, invoice.seller_vat_id, invoice.seller_country) == (
        "Acme Calls GmbH",
        SELLER_VAT_ID,
        "DE",
    )
    assert (invoice.buyer_name, invoice.buyer_vat_id, invoice.buyer_country) == ("Client BV", "NL004495445B01", "NL")
    assert "Amsterdam" in invoice.buyer_address and "Berlin" in invoice.seller_address

    # Later edits of either party's details change nothing already issued.
    billing_set(user.organization, country="FR", vat_id="", name="Renamed SARL")
    seller_set(agency, name="New Name GmbH", prefix="NEW")
    invoice.refresh_from_db()
    assert (invoice.buyer_name, invoice.seller_name, invoice.vat_treatment) == (
        "Client BV",
        "Acme Calls GmbH",
        VatTreatment.REVERSE_CHARGE,
    )


@pytest.mark.parametrize(
    "country, vat_id, treatment, rate_bp, net, vat_cents",
    [
        ("DE", "DE136695976", VatTreatment.DOMESTIC, 1900, 3361, 639),  # a German business: domestic, no reverse charge
        ("DE", "", VatTreatment.DOMESTIC, 1900, 3361, 639),
        ("FR", "", VatTreatment.EU_CONSUMER, 2000, 3333, 667),
        ("US", "", VatTreatment.OUTSIDE_EU, 0, 4000, 0),
    ],
)
def test_prices_including_vat_are_split_by_the_buyers_treatment(
    client, stripe_agency, make_client_user, country, vat_id, treatment, rate_bp, net, vat_cents
):
    agency = stripe_agency()
    seller_set(agency, country="DE")
    user = make_client_user(agency)
    billing_set(user.organization, country=country, vat_id=vat_id)
    purchase = paid(client, agency, user)
    assert purchase.amount_cents == 4000  # the client paid the package price
    invoice = Invoice.objects.get()
    assert (invoice.vat_treatment, invoice.vat_rate_bp) == (treatment, rate_bp)
    assert (invoice.net_cents, invoice.vat_cents, invoice.gross_cents) == (net, vat_cents, 4000)


def test_prices_excluding_vat_charge_vat_on_top_and_say_so_at_checkout(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="DE", include=False)
    user = make_client_user(agency)
    billing_set(user.organization, country="FR")
    client.force_login(user)
    page = client.get("/billing/buy/", HTTP_HOST=host(agency))
    assert "Price excludes VAT: you pay €40.00 + €8.00 20 % VAT (France) = <strong>€48.00</strong>" in page.text

    _, purchase = checkout_start(client, agency, user)
    session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    assert session.amount_total == 4800 and purchase.amount_cents == 4800
    agency.stripe.pay(purchase.stripe_session_id)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.credits == 100
    invoice = Invoice.objects.get()
    assert (invoice.net_cents, invoice.vat_cents, invoice.gross_cents) == (4000, 800, 4800)
    assert invoice.prices_include_vat is False


def test_the_buy_page_prices_packages_in_the_view_and_its_template_queries_nothing(
    client, stripe_agency, make_client_user, django_assert_num_queries
):
    from django.template.loader import render_to_string
    from django.test import override_settings
    from django.test.utils import ContextList

    agency = stripe_agency()
    seller_set(agency, country="DE", include=False)
    user = make_client_user(agency)
    billing_set(user.organization, country="FR")
    client.force_login(user)
    response = client.get("/billing/buy/", HTTP_HOST=host(agency))
    context = response.context[0] if isinstance(response.context, ContextList) else response.context
    with django_assert_num_queries(0), override_settings(ROOT_URLCONF=response.wsgi_request.urlconf):
        page = render_to_string("billing/buy.html", context.flatten())  # the VAT terms came with the context
    assert "you pay €40.00 + €8.00 20 % VAT (France) = <strong>€48.00</strong>" in page


def test_prices_excluding_vat_add_nothing_under_reverse_charge(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="DE", include=False)
    user = make_client_user(agency)
    billing_set(user.organization, country="NL", vat_id="NL004495445B01")
    client.force_login(user)
    assert (
        "No VAT (reverse charge): you pay the price shown." in client.get("/billing/buy/", HTTP_HOST=host(agency)).text
    )
    purchase = paid(client, agency, user)
    assert purchase.amount_cents == 4000 and Invoice.objects.get().net_cents == 4000


def test_checkout_says_when_prices_include_vat(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="DE")
    user = make_client_user(agency)
    client.force_login(user)
    assert "Price includes VAT: €6.39 19 % VAT (Germany)." in client.get("/billing/buy/", HTTP_HOST=host(agency)).text


@pytest.mark.now(NOON)
def test_an_agency_without_seller_details_still_invoices_under_its_name(client, stripe_agency, make_client_user):
    agency = stripe_agency(slug="sun-calls", company_name="Sunrise Calls")
    user = make_client_user(agency)
    paid(client, agency, user)
    invoice = Invoice.objects.get()
    assert invoice.number == f"SUNCALLS-{YEAR}-000001" and invoice.seller_name == "Sunrise Calls"
    assert invoice.vat_treatment == VatTreatment.OUTSIDE_EU and "neither" in invoice.legal_note


def test_issued_invoices_cannot_be_changed_or_deleted(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    paid(client, agency, make_client_user(agency))
    invoice = Invoice.objects.get()
    invoice.gross_cents = 1
    with pytest.raises(Immutable):
        invoice.save()
    with pytest.raises(Immutable):
        invoice.delete()
    with pytest.raises(DatabaseError), transaction.atomic():  # the database refuses too
        Invoice.objects.filter(pk=invoice.pk).update(buyer_name="Someone else")
    assert Invoice.objects.get().buyer_name == invoice.buyer_name


def test_net_plus_vat_must_equal_gross_in_the_database(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    paid(client, agency, make_client_user(agency))
    fields = {
        f.name: getattr(Invoice.objects.get(), f.name)
        for f in Invoice._meta.concrete_fields
        if f.name not in ("id", "purchase")
    }
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.create(**{**fields, "number": "X-1", "vat_cents": fields["vat_cents"] + 1})


@pytest.mark.now(NOON)
def test_a_rolled_back_issue_leaves_no_gap_in_the_numbers(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency)
    user = make_client_user(agency)
    _, first = checkout_start(client, agency, user)
    _, second = checkout_start(client, agency, user)
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 -- the raise rolls the numbered invoice back
        assert services.invoice_issue_for_purchase(purchase=first).number == f"ACME-{YEAR}-000001"
        raise RuntimeError("crediting failed after the invoice was numbered")
    assert not Invoice.objects.exists()
    assert services.invoice_issue_for_purchase(purchase=second).number == f"ACME-{YEAR}-000001"


@pytest.mark.now(NOON)
def test_numbers_are_per_agency(client, stripe_agency, make_client_user):
    first, second = stripe_agency(), stripe_agency()
    seller_set(first, prefix="ONE")
    seller_set(second, prefix="TWO")
    paid(client, first, make_client_user(first))
    paid(client, first, make_client_user(first))
    paid(client, second, make_client_user(second))
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        f"ONE-{YEAR}-000001",
        f"ONE-{YEAR}-000002",
        f"TWO-{YEAR}-000001",
    ]


@pytest.mark.now("2026-12-31T23:59:59Z", tick=False)
def test_numbering_starts_again_at_one_in_a_new_year(client, stripe_agency, make_client_user, clock):
    agency = stripe_agency()
    seller_set(agency)
    user = make_client_user(agency)
    purchases = [checkout_start(client, agency, user)[1] for _ in range(3)]

    assert services.invoice_issue_for_purchase(purchase=purchases[0]).number == "ACME-2026-000001"
    clock.shift(2)  # 00:00:01 on New Year's Day
    issued = [services.invoice_issue_for_purchase(purchase=purchase) for purchase in purchases[1:]]

    assert [i.number for i in issued] == ["ACME-2027-000001", "ACME-2027-000002"]
    assert {i.issue_date.isoformat() for i in issued} == {"2027-01-01"}


# --- Refunds --------------------------------------------------------------------


@pytest.mark.now(NOON)
def test_refunds_issue_credit_notes_that_add_up_to_the_invoice(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    seller_set(agency, country="DE")
    user = make_client_user(agency)
    purchase = paid(client, agency, user)
    invoice = Invoice.objects.get()
    assert (invoice.net_cents, invoice.vat_cents) == (3361, 639)

    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=1000)
    first = agency.stripe.last_delivery("charge.refunded")
    assert deliver(client, agency, first).status_code == 200
    note = CreditNote.objects.get()
    assert note.invoice == invoice and note.number == f"ACME-CN-{YEAR}-000001"
    assert (note.net_cents, note.vat_cents, note.gross_cents) == (840, 160, 1000)  # 159.66 VAT -> 160

    agency.stripe.refund(purchase.stripe_payment_intent_id)  # the remaining €30
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    assert deliver(client, agency, first).status_code == 200  # a late redelivery issues nothing
    notes = list(CreditNote.objects.order_by("sequence"))
    assert [n.number for n in notes] == [f"ACME-CN-{YEAR}-000001", f"ACME-CN-{YEAR}-000002"]
    assert sum(n.gross_cents for n in notes) == invoice.gross_cents
    assert sum(n.vat_cents for n in notes) == invoice.vat_cents and sum(n.net_cents for n in notes) == invoice.net_cents
    assert Invoice.objects.count() == 1  # the invoice itself is untouched


def test_a_refund_reported_before_the_payment_gets_its_credit_note_with_the_invoice(
    client, stripe_agency, make_client_user
):
    agency = stripe_agency()
    seller_set(agency)
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    intent = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id).payment_intent
    agency.stripe.refund(intent, amount=2000)
    assert deliver_last(client, agency, "charge.refunded").status_code == 200
    assert not Invoice.objects.exists() and not CreditNote.objects.exists()
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    note = CreditNote.objects.get()
    assert note.invoice == Invoice.objects.get() and note.gross_cents == 2000 and note.credited_total_cents == 2000

"""Agencies buy call minutes from the platform: Checkout on the platform's own Stripe account
(the stand-in, over real HTTP), credited once by the webhook at /api/webhooks/stripe/platform,
invoiced by the platform, taken back by refunds and disputes like client credits."""

import json

import pytest

from agencies.models import Agency
from agencies.validators import RESERVED_SLUGS
from billing.models import LedgerEntry, Purchase, StripeEvent
from invoices.models import CreditNote, Invoice
from stripe_standin.resources import sign
from tests.billing.flows import deliver, webhook_post
from tests.stripe_fixtures import closed_port

CONSOLE = {"HTTP_HOST": "localhost"}


def platform_post(client, delivery_or_payload, signature=None):
    if isinstance(delivery_or_payload, dict):
        delivery_or_payload, signature = delivery_or_payload["payload"], delivery_or_payload["signature"]
    headers = dict(CONSOLE)
    if signature is not None:
        headers["HTTP_STRIPE_SIGNATURE"] = signature
    return client.post(
        "/api/webhooks/stripe/platform", data=delivery_or_payload, content_type="application/json", **headers
    )


@pytest.fixture
def platform(settings, stripe_account):
    """The platform's Stripe account on the stand-in; its deliveries go nowhere (tests post them)."""
    account = stripe_account()
    endpoint = account.client.v1.webhook_endpoints.create(
        {
            "url": f"http://127.0.0.1:{closed_port()}/api/webhooks/stripe/platform",
            "enabled_events": ["*"],
        }
    )
    settings.PLATFORM_STRIPE_SECRET_KEY = account.secret_key
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = endpoint.secret
    settings.PLATFORM_MINUTE_PRICE_CENTS = 7
    settings.PLATFORM_CURRENCY = "EUR"
    settings.PLATFORM_MINUTES_MIN_PURCHASE = 1000
    settings.PLATFORM_INVOICE_PREFIX = "PLAT"
    return account


@pytest.fixture
def agency(make_agency):
    return make_agency(active=True)


def buy(client, agency, minutes) -> Purchase:
    client.force_login(agency.admin)
    response = client.post("/console/billing/minutes/", {"minutes": str(minutes)}, **CONSOLE)
    assert response.status_code == 303, response.content
    return Purchase.objects.get(stripe_session_id=response["Location"].rsplit("/", 1)[1])


def paid(client, platform, agency, minutes=2000) -> Purchase:
    purchase = buy(client, agency, minutes)
    platform.pay(purchase.stripe_session_id)
    assert platform_post(client, platform.last_delivery("checkout.session.completed")).status_code == 200
    purchase.refresh_from_db()
    return purchase


def minutes_of(agency) -> int:
    return Agency.objects.get(pk=agency.pk).minutes_balance


def test_the_console_page_shows_the_price_and_the_minimum(client, platform, agency):
    client.force_login(agency.admin)
    page = client.get("/console/billing/minutes/", **CONSOLE)
    assert page.status_code == 200
    assert "€0.07" in page.text and "1,000 minutes" in page.text
    assert 'data-testid="minutes-unavailable"' not in page.text


def test_a_purchase_starts_checkout_on_the_platforms_account_with_the_price_of_the_minutes(client, platform, agency):
    purchase = buy(client, agency, 2500)

    session = platform.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    assert (session.amount_total, session.currency, session.mode) == (17500, "eur", "payment")
    assert session.client_reference_id == f"agency_{agency.pk}"
    assert session.metadata["purchase"] == purchase.reference
    assert session.success_url.startswith("http://localhost/console/billing/minutes/success/")
    assert (purchase.organization_id, purchase.package_id, purchase.credits, purchase.amount_cents) == (
        None,
        None,
        2500,
        17500,
    )
    assert purchase.buyer == agency.admin and purchase.status == "pending"
    assert minutes_of(agency) == 0


@pytest.mark.parametrize(
    "minutes, message",
    [
        ("999", "The smallest purchase is 1,000 minutes."),
        ("abc", "Enter a whole number of minutes."),
        ("-5", "Enter a whole number of minutes."),
        ("10000001", "The largest purchase is 10,000,000 minutes"),
    ],
)
def test_bad_amounts_get_a_clear_message_and_change_nothing(client, platform, agency, minutes, message):
    client.force_login(agency.admin)
    response = client.post("/console/billing/minutes/", {"minutes": minutes}, **CONSOLE)
    assert response.status_code == 400
    assert message in response.text
    assert not Purchase.objects.exists()


def test_without_platform_keys_buying_is_refused_and_nothing_is_written(client, settings, agency):
    settings.PLATFORM_STRIPE_SECRET_KEY = ""
    client.force_login(agency.admin)
    assert 'data-testid="minutes-unavailable"' in client.get("/console/billing/minutes/", **CONSOLE).text
    response = client.post("/console/billing/minutes/", {"minutes": "1000"}, **CONSOLE)
    assert response.status_code == 502
    assert "not set up" in response.text
    assert not Purchase.objects.exists()


def test_stripe_down_while_starting_writes_nothing(client, platform, agency, settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    client.force_login(agency.admin)
    response = client.post("/console/billing/minutes/", {"minutes": "1000"}, **CONSOLE)
    assert response.status_code == 503
    assert "could not be reached" in response.text
    assert not Purchase.objects.exists()


def test_paid_webhook_credits_the_minutes_once_and_the_platform_invoices_them(client, platform, agency):
    purchase = buy(client, agency, 2000)
    platform.pay(purchase.stripe_session_id)
    delivery = platform.last_delivery("checkout.session.completed")

    for _ in range(3):  # Stripe redelivers; the first one credits
        assert platform_post(client, delivery).status_code == 200

    purchase.refresh_from_db()
    assert purchase.status == "paid" and purchase.fulfilled_at is not None
    assert minutes_of(agency) == 2000
    [entry] = LedgerEntry.objects.filter(purchase=purchase)
    assert (entry.agency_id, entry.organization_id, entry.amount, entry.kind) == (agency.pk, None, 2000, "purchase")
    assert StripeEvent.objects.filter(agency=None, event_id=json.loads(delivery["payload"])["id"]).count() == 1
    invoice = Invoice.objects.get(purchase=purchase)
    assert invoice.sold_by_platform and invoice.agency_id == agency.pk
    assert invoice.number.startswith("PLAT-") and invoice.gross_cents == 14000
    assert invoice.description == "2,000 call minutes"


def test_the_success_page_credits_too_and_the_webhook_after_it_changes_nothing(client, platform, agency):
    purchase = buy(client, agency, 1000)
    platform.pay(purchase.stripe_session_id)

    page = client.get("/console/billing/minutes/success/", {"session_id": purchase.stripe_session_id}, **CONSOLE)
    assert page.status_code == 200
    assert "+1,000 minutes" in page.text
    assert platform_post(client, platform.last_delivery("checkout.session.completed")).status_code == 200
    assert minutes_of(agency) == 1000
    assert Invoice.objects.filter(purchase=purchase).count() == 1


def test_a_minute_checkout_left_to_expire_is_marked_expired_and_adds_nothing(client, platform, agency):
    purchase = buy(client, agency, 1000)
    platform.client.v1.checkout.sessions.expire(purchase.stripe_session_id)

    assert platform_post(client, platform.last_delivery("checkout.session.expired")).status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.EXPIRED
    page = client.get("/console/billing/minutes/success/", {"session_id": purchase.stripe_session_id}, **CONSOLE)
    assert "Checkout expired" in page.text
    assert minutes_of(agency) == 0
    assert not Invoice.objects.filter(purchase=purchase).exists()


def test_another_agencys_success_page_cannot_see_the_purchase(client, platform, agency, make_agency):
    purchase = buy(client, agency, 1000)
    client.force_login(make_agency().admin)
    response = client.get("/console/billing/minutes/success/", {"session_id": purchase.stripe_session_id}, **CONSOLE)
    assert response.status_code == 404


def test_refunds_take_minutes_back_in_proportion_with_credit_notes(client, platform, agency):
    purchase = paid(client, platform, agency, 2000)  # €140

    platform.refund(purchase.stripe_payment_intent_id, amount=3500)  # a quarter
    first = platform.last_delivery("charge.refunded")
    assert platform_post(client, first).status_code == 200
    assert minutes_of(agency) == 1500
    platform.refund(purchase.stripe_payment_intent_id)
    assert platform_post(client, platform.last_delivery("charge.refunded")).status_code == 200
    assert platform_post(client, first).status_code == 200  # a late redelivery removes nothing

    purchase.refresh_from_db()
    assert (purchase.status, purchase.credits_refunded) == ("refunded", 2000)
    assert minutes_of(agency) == 0
    notes = CreditNote.objects.filter(invoice__purchase=purchase).order_by("pk")
    assert [n.gross_cents for n in notes] == [3500, 10500]
    assert all(n.number.startswith("PLAT-CN-") for n in notes)


def test_a_lost_dispute_keeps_the_minutes_removed_and_a_won_one_returns_them(client, platform, agency):
    lost, won = paid(client, platform, agency, 1000), paid(client, platform, agency, 1000)
    for purchase, outcome in ((lost, "lost"), (won, "won")):
        dispute = platform.dispute(purchase.stripe_charge_id or _charge(platform, purchase))
        assert platform_post(client, platform.last_delivery("charge.dispute.created")).status_code == 200
        platform.close_dispute(dispute["id"], outcome)
        assert platform_post(client, platform.last_delivery("charge.dispute.closed")).status_code == 200
    lost.refresh_from_db()
    won.refresh_from_db()
    assert (lost.status, won.status) == ("dispute_lost", "paid")
    assert minutes_of(agency) == 1000


def _charge(platform, purchase) -> str:
    return platform.client.v1.payment_intents.retrieve(purchase.stripe_payment_intent_id).latest_charge


def test_events_signed_for_an_agency_are_refused_on_the_platform_url_and_the_other_way(
    client, platform, stripe_agency, make_client_user
):
    from tests.billing.flows import bought_and_paid

    agency = stripe_agency()
    bought_and_paid(client, agency, make_client_user(agency))
    agency_delivery = agency.stripe.last_delivery("checkout.session.completed")
    assert platform_post(client, agency_delivery).status_code == 400

    purchase = buy(client, agency, 1000)
    platform.pay(purchase.stripe_session_id)
    platform_delivery = platform.last_delivery("checkout.session.completed")
    assert deliver(client, agency, platform_delivery).status_code == 400
    assert not StripeEvent.objects.exists()
    assert minutes_of(agency) == 0


def test_a_forged_event_naming_a_minute_purchase_on_an_agency_account_credits_nothing(client, platform, stripe_agency):
    """An agency's own Stripe account cannot fulfil a minute purchase: sessions are looked up per account."""
    agency = stripe_agency()
    purchase = buy(client, agency, 1000)
    payload = json.dumps(
        {
            "id": "evt_forged",
            "type": "checkout.session.completed",
            "data": {"object": {"id": purchase.stripe_session_id}},
        }
    )
    # Signed with the agency's real secret, but the session is not in the agency's account.
    response = webhook_post(
        client, agency, payload, sign(payload, Agency.objects.get(pk=agency.pk).stripe_webhook_secret)
    )
    assert response.status_code == 200
    assert "ignored" in response.json()["outcome"]
    assert minutes_of(agency) == 0


def test_platform_webhook_without_a_signature_or_keys_is_400(client, settings, platform):
    assert platform_post(client, "{}", None).status_code == 400
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = ""
    payload = json.dumps({"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {"id": "cs_x"}}})
    assert platform_post(client, payload, sign(payload, "whsec_whatever")).status_code == 400


def test_platform_is_a_reserved_slug_so_no_agency_can_take_its_webhook_url():
    assert "platform" in RESERVED_SLUGS


def test_minute_purchases_stay_off_the_agencys_client_purchases_page(client, platform, agency):
    paid(client, platform, agency, 1000)
    page = client.get("/console/billing/purchases/", **CONSOLE)
    assert 'data-testid="purchase-row"' not in page.text
    minutes_page = client.get("/console/billing/minutes/", **CONSOLE)
    assert minutes_page.text.count('data-testid="minutes-purchase-row"') == 1


def test_the_agency_downloads_the_platforms_invoice_under_the_platforms_name(client, platform, agency, settings):
    import io

    from pypdf import PdfReader

    settings.PLATFORM_NAME = "Acme Voice Platform"
    settings.PLATFORM_LEGAL_NAME = "Acme Voice B.V."
    purchase = paid(client, platform, agency, 1000)
    invoice = Invoice.objects.get(purchase=purchase)
    listing = client.get("/console/invoices/", **CONSOLE)
    assert invoice.number in listing.text and "Platform invoice to you" in listing.text

    response = client.get(f"/console/invoices/{invoice.pk}.pdf", **CONSOLE)
    assert response.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert invoice.number in text and "Acme Voice Platform" in text and "Acme Voice B.V." in text
    assert agency.company_name in text  # the buyer
    assert "1,000 call minutes" in text


def test_vat_is_added_on_top_for_a_domestic_agency_and_split_on_the_invoice(client, platform, agency, settings):
    from invoices.services import billing_details_save

    settings.PLATFORM_COUNTRY = "NL"
    billing_details_save(
        agency=agency,
        data={
            "company_name": "Agency B.V.",
            "address_line1": "Kade 1",
            "address_line2": "",
            "postal_code": "1011 AA",
            "city": "Amsterdam",
            "country": "NL",
            "vat_id": "",
        },
    )
    client.force_login(agency.admin)
    page = client.get("/console/billing/minutes/", **CONSOLE)
    assert "1,000 minutes: €70.00 + €14.70 21 % VAT (Netherlands) = <strong>€84.70</strong>" in page.text

    purchase = paid(client, platform, agency, 1000)

    assert purchase.amount_cents == 8470
    invoice = Invoice.objects.get(purchase=purchase)
    assert (invoice.net_cents, invoice.vat_cents, invoice.vat_treatment) == (7000, 1470, "domestic")
    assert invoice.buyer_name == "Agency B.V."
    assert minutes_of(agency) == 1000

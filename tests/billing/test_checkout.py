"""Buying credits on an agency's portal: Checkout Session, Purchase, success page."""

import pytest
from django.test import Client

from agencies import services
from billing import accounts, checkout
from billing.models import LedgerEntry, Purchase
from tests.billing.flows import bought_and_paid, checkout_start, deliver, deliver_last, in_threads, success_page
from tests.conftest import host
from tests.stripe_fixtures import closed_port


def test_buy_credits_lists_the_agency_packages(client, stripe_agency, make_client_user, make_agency):
    agency = stripe_agency()
    services.package_create(agency=agency, credits=500, price_cents=17500, currency="EUR")
    other = make_agency(active=True)
    services.package_create(agency=other, credits=777, price_cents=100, currency="USD")
    client.force_login(make_client_user(agency))
    response = client.get("/billing/buy/", HTTP_HOST=host(agency))
    assert response.status_code == 200
    assert "100 credits" in response.text and "€40.00" in response.text
    assert "500 credits" in response.text and "€175.00" in response.text
    assert "777" not in response.text


def test_buy_credits_needs_a_login(client, stripe_agency):
    agency = stripe_agency()
    response = client.get("/billing/buy/", HTTP_HOST=host(agency))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_choosing_a_package_creates_the_session_on_the_agency_account_and_redirects(
    client, stripe_agency, make_client_user
):
    agency = stripe_agency()
    user = make_client_user(agency, email="buyer@example.com")
    response, purchase = checkout_start(client, agency, user)

    session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    assert response.status_code == 303 and response["Location"] == session.url
    assert session.mode == "payment" and session.amount_total == 4000 and session.currency == "eur"
    assert session.customer_email == "buyer@example.com"
    assert session.client_reference_id == f"org_{user.organization_id}"
    assert session.metadata["organization_id"] == str(user.organization_id)
    assert session.metadata["package_id"] == str(purchase.package_id)
    assert session.metadata["purchase"] == purchase.reference
    assert session.success_url.startswith(f"http://{host(agency)}/billing/buy/success/")
    assert "{CHECKOUT_SESSION_ID}" in session.success_url
    assert session.cancel_url == f"http://{host(agency)}/billing/buy/cancelled/{purchase.reference}/"
    # The agency's own price is used when it costs what the package costs.
    line = agency.stripe.client.v1.checkout.sessions.line_items.list(session.id).data[0]
    assert line.price.id == agency.stripe_price_id

    assert (purchase.organization_id, purchase.credits, purchase.amount_cents, purchase.currency) == (
        user.organization_id,
        100,
        4000,
        "EUR",
    )
    assert purchase.status == Purchase.Status.PENDING and purchase.buyer == user
    assert user.organization.credits_balance == 0


def test_a_package_priced_differently_from_the_agency_price_uses_its_own_amount(
    client, stripe_agency, make_client_user
):
    agency = stripe_agency()
    package = services.package_create(agency=agency, credits=500, price_cents=17500, currency="EUR")
    _, purchase = checkout_start(client, agency, make_client_user(agency), package)
    line = agency.stripe.client.v1.checkout.sessions.line_items.list(purchase.stripe_session_id).data[0]
    assert line.price.id != agency.stripe_price_id
    assert (line.price.unit_amount, line.price.currency, line.price.product) == (17500, "eur", agency.stripe_product_id)
    assert purchase.credits == 500 and purchase.amount_cents == 17500


def test_another_agencys_package_cannot_be_bought(client, stripe_agency, make_client_user):
    agency, other = stripe_agency(), stripe_agency()
    client.force_login(make_client_user(agency))
    response = client.post(f"/billing/buy/{other.packages.get().pk}/", HTTP_HOST=host(agency))
    assert response.status_code == 404
    assert not Purchase.objects.exists()


def test_stripe_outage_while_creating_a_session_shows_a_branded_error_and_writes_nothing(
    client, stripe_agency, make_client_user, settings
):
    agency = stripe_agency(company_name="Sunrise Calls")
    user = make_client_user(agency)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"  # Stripe unreachable
    client.force_login(user)
    response = client.post(f"/billing/buy/{agency.packages.get().pk}/", HTTP_HOST=host(agency))
    assert response.status_code == 503
    assert "Sunrise Calls" in response.text and "Nothing was charged" in response.text
    assert not Purchase.objects.exists() and not LedgerEntry.objects.exists()


@pytest.mark.parametrize("broken", ["secret_key", "price"])
def test_a_key_or_price_stripe_refuses_shows_a_branded_error_and_writes_nothing(
    client, stripe_agency, make_client_user, broken
):
    agency = stripe_agency(company_name="Sunrise Calls")
    if broken == "secret_key":
        agency.stripe_secret_key = "sk_test_NotKnownToStripe1234"
    else:
        agency.stripe_price_id = "price_DeletedLongAgo"
    agency.save()
    client.force_login(make_client_user(agency))
    response = client.post(f"/billing/buy/{agency.packages.get().pk}/", HTTP_HOST=host(agency))
    assert response.status_code == 502
    assert "Sunrise Calls cannot take payments" in response.text
    assert "sk_test_" not in response.text and "Invalid API Key" not in response.text
    assert not Purchase.objects.exists()


def test_success_page_credits_a_paid_session_once(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)

    response = success_page(client, agency, purchase)
    assert response.status_code == 200
    assert "+100 credits" in response.text and 'data-testid="credits-balance">100<' in response.text
    again = success_page(client, agency, purchase)
    assert "+100 credits" in again.text

    user.organization.refresh_from_db()
    purchase.refresh_from_db()
    assert user.organization.credits_balance == 100
    assert purchase.status == Purchase.Status.PAID and purchase.fulfilled_at is not None
    assert purchase.stripe_payment_intent_id.startswith("pi_")
    entry = LedgerEntry.objects.get(organization=user.organization)
    assert (entry.kind, entry.amount, entry.balance_after, entry.purchase) == ("purchase", 100, 100, purchase)


def test_webhook_then_success_page_credit_once(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    assert "+100 credits" in success_page(client, agency, purchase).text
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100
    assert LedgerEntry.objects.filter(organization=user.organization).count() == 1


def test_success_page_then_webhook_credit_once(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    success_page(client, agency, purchase)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100
    assert LedgerEntry.objects.filter(organization=user.organization).count() == 1


def test_success_page_before_payment_credits_nothing(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user)
    response = success_page(client, agency, purchase)
    assert "No payment yet" in response.text
    assert not LedgerEntry.objects.exists()


def test_success_page_while_stripe_is_unreachable_says_processing_and_changes_nothing(
    client, stripe_agency, make_client_user, settings
):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    response = success_page(client, agency, purchase)
    assert response.status_code == 200 and "Payment processing" in response.text
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PENDING and not LedgerEntry.objects.exists()


def test_success_page_of_another_clients_purchase_is_404(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    purchase = bought_and_paid(client, agency, make_client_user(agency))
    client.force_login(make_client_user(agency, company_name="Someone Else"))
    assert success_page(client, agency, purchase).status_code == 404
    assert not LedgerEntry.objects.exists()


def test_cancel_page_says_nothing_was_charged(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user)
    session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    response = client.get(session.cancel_url.split(host(agency), 1)[1], HTTP_HOST=host(agency))
    assert response.status_code == 200 and "Nothing was charged" in response.text
    client.force_login(make_client_user(agency, company_name="Someone Else"))
    assert client.get(session.cancel_url.split(host(agency), 1)[1], HTTP_HOST=host(agency)).status_code == 404


def test_unpaid_then_async_succeeded_credits_once(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user, delayed=True)

    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING
    assert "Payment processing" in success_page(client, agency, purchase).text
    assert not LedgerEntry.objects.exists()

    agency.stripe.settle(purchase.stripe_session_id, succeeded=True)
    assert deliver_last(client, agency, "checkout.session.async_payment_succeeded").status_code == 200
    assert deliver_last(client, agency, "checkout.session.async_payment_succeeded").status_code == 200
    assert "+100 credits" in success_page(client, agency, purchase).text
    purchase.refresh_from_db()
    user.organization.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and user.organization.credits_balance == 100
    assert LedgerEntry.objects.count() == 1


def test_async_payment_failed_marks_the_purchase_failed_without_credits(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user, delayed=True)
    agency.stripe.settle(purchase.stripe_session_id, succeeded=False)
    # Delivered in the "wrong" order: the failure first, then the completion.
    assert deliver_last(client, agency, "checkout.session.async_payment_failed").status_code == 200
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED
    assert "Payment failed" in success_page(client, agency, purchase).text
    assert not LedgerEntry.objects.exists()


def test_amount_mismatch_is_recorded_and_not_credited(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user, amount_total=1000)  # Stripe charged €10, not €40
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.MISMATCH
    assert purchase.mismatch_reason == "Stripe charged €10.00, the package costs €40.00."
    assert "We need to check this payment" in success_page(client, agency, purchase).text
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 0 and not LedgerEntry.objects.exists()


def test_a_session_the_portal_did_not_create_is_ignored(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    # A session made on the agency's Stripe account by something else, claiming our client.
    foreign = agency.stripe.client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": agency.stripe_price_id, "quantity": 1}],
            "success_url": "https://elsewhere.example/thanks",
            "client_reference_id": f"org_{user.organization_id}",
            "metadata": {"organization_id": str(user.organization_id), "package_id": str(agency.packages.get().pk)},
        }
    )
    agency.stripe.pay(foreign.id)
    response = deliver_last(client, agency, "checkout.session.completed")
    assert response.status_code == 200 and "not a session this portal created" in response.json()["outcome"]
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 0
    assert not Purchase.objects.exists() and not LedgerEntry.objects.exists()


def test_a_test_mode_session_never_credits_an_agency_with_live_keys(
    client, stripe_agency, make_client_user, stripe_account
):
    agency = stripe_agency()  # test keys while the client buys
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    test_session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    live = stripe_account(live=True)
    services.agency_update_stripe(
        agency=agency,
        data={
            "stripe_publishable_key": "pk_live_abcdefgh1234",
            "stripe_secret_key": live.secret_key,
            "stripe_product_id": agency.stripe_product_id,
            "stripe_price_id": agency.stripe_price_id,
            "stripe_webhook_secret": "",
        },
    )
    agency.refresh_from_db()

    checkout.purchase_fulfil(account=accounts.agency_account(agency), session=test_session)
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.MISMATCH
    assert "test-mode payment" in purchase.mismatch_reason
    assert not LedgerEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_purchase_fulfil_run_in_two_threads_credits_once(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(Client(), agency, user)
    session = agency.stripe.client.v1.checkout.sessions.retrieve(purchase.stripe_session_id)
    account = accounts.agency_account(agency)
    results = in_threads(2, lambda i: checkout.purchase_fulfil(account=account, session=session))
    assert [r.status for r in results] == ["paid", "paid"]
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100
    assert LedgerEntry.objects.filter(purchase=purchase).count() == 1


def test_a_checkout_left_unpaid_until_stripe_expires_it_is_marked_expired(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user)

    agency.stripe.client.v1.checkout.sessions.expire(purchase.stripe_session_id)
    assert deliver_last(client, agency, "checkout.session.expired").status_code == 200
    assert deliver_last(client, agency, "checkout.session.expired").status_code == 200  # a redelivery

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.EXPIRED
    assert "Checkout expired" in success_page(client, agency, purchase).text
    assert not LedgerEntry.objects.exists()
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 0


def test_an_expired_checkout_cannot_be_paid_any_more(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user)
    agency.stripe.client.v1.checkout.sessions.expire(purchase.stripe_session_id)

    with pytest.raises(AssertionError, match="no longer open"):
        agency.stripe.pay(purchase.stripe_session_id)


def test_an_expiry_event_never_undoes_a_paid_purchase(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    paid = bought_and_paid(client, agency, user)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    _, left_open = checkout_start(client, agency, user)
    agency.stripe.client.v1.checkout.sessions.expire(left_open.stripe_session_id)
    expiry = agency.stripe.last_delivery("checkout.session.expired")

    # The other session's expiry changes nothing paid, nor does an expiry handled for the paid session.
    assert deliver(client, agency, expiry).status_code == 200
    paid_session = agency.stripe.client.v1.checkout.sessions.retrieve(paid.stripe_session_id)
    assert (
        checkout.purchase_expire(account=accounts.agency_account(agency), session=paid_session).status
        == Purchase.Status.PAID
    )

    paid.refresh_from_db()
    left_open.refresh_from_db()
    user.organization.refresh_from_db()
    assert (paid.status, left_open.status) == (Purchase.Status.PAID, Purchase.Status.EXPIRED)
    assert user.organization.credits_balance == 100

"""The console's purchases list: cancelled and expired checkouts labelled and hidden by default; its CSV export."""

import csv
import io
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import User
from billing.models import Purchase
from tests.billing.flows import bought_and_paid, checkout_start, deliver_last
from tests.conftest import PASSWORD, host

_seq = itertools.count()


def _purchase(agency, organization, *, status=Purchase.Status.PENDING, amount_cents=4000):
    n = next(_seq)
    return Purchase.objects.create(
        reference=f"cp-{n}",
        agency=agency,
        organization=organization,
        package=agency.packages.first(),
        credits=100,
        amount_cents=amount_cents,
        currency="EUR",
        stripe_session_id=f"cs_test_cp_{n}",
        livemode=False,
        status=status,
    )


def _rows(response) -> list[str]:
    return response.text.split('data-testid="purchase-row"')[1:]


def test_a_checkout_the_client_cancelled_shows_cancelled_and_is_hidden_by_default(
    console, client, stripe_agency, make_client_user
):
    agency = stripe_agency()
    user = make_client_user(agency, company_name="Acme Bakery")
    _, purchase = checkout_start(client, agency, user)

    page = client.get(f"/billing/buy/cancelled/{purchase.reference}/", HTTP_HOST=host(agency))

    assert page.status_code == 200 and "Nothing was charged" in page.text
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.CANCELLED
    console.force_login(agency.admin)
    assert _rows(console.get("/console/billing/purchases/")) == []
    assert "Awaiting payment" not in console.get("/console/billing/purchases/").text
    [row] = _rows(console.get("/console/billing/purchases/", {"show": "abandoned"}))
    assert "Acme Bakery" in row and "Cancelled" in row
    assert len(_rows(console.get("/console/billing/purchases/", {"show": "all"}))) == 1


def test_a_cancelled_checkout_paid_after_all_is_credited(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    client.get(f"/billing/buy/cancelled/{purchase.reference}/", HTTP_HOST=host(agency))  # back button, then paid

    deliver_last(client, agency, "checkout.session.completed")

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    user.organization.refresh_from_db()
    assert user.organization.credits_balance == 100


def test_the_cancel_page_never_relabels_a_paid_purchase(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    deliver_last(client, agency, "checkout.session.completed")

    client.get(f"/billing/buy/cancelled/{purchase.reference}/", HTTP_HOST=host(agency))

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID


def test_an_expired_checkout_shows_expired_only_when_asked(console, client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user)
    agency.stripe.client.v1.checkout.sessions.expire(purchase.stripe_session_id)
    deliver_last(client, agency, "checkout.session.expired")
    console.force_login(agency.admin)

    assert _rows(console.get("/console/billing/purchases/")) == []
    [row] = _rows(console.get("/console/billing/purchases/", {"show": "abandoned"}))
    assert "Checkout expired" in row


def test_an_unknown_filter_shows_the_default_list(console, make_agency, make_client_user):
    agency = make_agency(active=True)
    organization = make_client_user(agency).organization
    _purchase(agency, organization, status=Purchase.Status.CANCELLED)
    _purchase(agency, organization)
    console.force_login(agency.admin)
    response = console.get("/console/billing/purchases/", {"show": "<script>"})
    assert response.status_code == 200 and len(_rows(response)) == 1


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.now("2026-03-15T12:00:00Z")
def test_purchases_csv_has_the_filtered_rows_with_decimal_money_iso_dates_and_no_formulas(
    console, make_agency, make_client_user
):
    agency = make_agency(active=True)
    organization = make_client_user(agency, company_name='=HYPERLINK("http://evil")').organization
    _purchase(agency, organization, amount_cents=4005)
    _purchase(agency, organization, status=Purchase.Status.EXPIRED)
    other = make_agency(active=True)
    _purchase(other, make_client_user(other).organization)
    console.force_login(agency.admin)

    header, *rows = _csv(console.get("/console/billing/purchases.csv"))

    assert header[:7] == ["date", "reference", "client", "buyer_email", "credits", "amount", "currency"]
    [row] = rows  # the expired one is hidden, as on screen; the other agency's is not ours
    assert row[0] == "2026-03-15T12:00:00+00:00"
    assert row[2] == '\'=HYPERLINK("http://evil")'
    assert row[5:7] == ["40.05", "EUR"] and row[8] == "Awaiting payment"
    assert len(_csv(console.get("/console/billing/purchases.csv", {"show": "all"}))) == 3


def test_purchases_csv_needs_the_agency_admin(console, make_agency):
    make_agency(active=True)
    assert console.get("/console/billing/purchases.csv").status_code == 302
    console.force_login(User.objects.create_user("nobody@example.com", PASSWORD))
    assert console.get("/console/billing/purchases.csv").status_code == 404


@pytest.mark.parametrize("path", ["/console/billing/purchases/", "/console/billing/purchases.csv"])
def test_purchases_pages_take_the_same_queries_for_2_and_20_purchases(console, make_agency, make_client_user, path):
    agency = make_agency(active=True)
    console.force_login(agency.admin)
    counts = []
    for target in (2, 20):
        while Purchase.objects.filter(agency=agency).count() < target:
            _purchase(agency, make_client_user(agency).organization)
        with CaptureQueriesContext(connection) as queries:
            response = console.get(path)
            if path.endswith(".csv"):
                assert len(_csv(response)) == target + 1
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_bank_debit_shows_pending_with_its_amount_until_it_settles(client, stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user, delayed=True)
    deliver_last(client, agency, "checkout.session.completed")

    for path in ("/billing/", "/"):
        page = client.get(path, HTTP_HOST=host(agency))
        assert 'data-testid="pending-purchase"' in page.text, path
        assert "100 credits for €40.00" in page.text and "Payment processing" in page.text

    agency.stripe.settle(purchase.stripe_session_id, succeeded=True)
    deliver_last(client, agency, "checkout.session.async_payment_succeeded")
    history = client.get("/billing/", HTTP_HOST=host(agency)).text
    assert 'data-testid="pending-purchase"' not in history
    assert 'data-testid="pending-purchase"' not in client.get("/", HTTP_HOST=host(agency)).text
    [row] = history.split('data-testid="history-row"')[1:]
    assert "Purchase" in row and "+100" in row

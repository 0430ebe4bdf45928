"""CSV exports of the console's invoices and clients: the rows on screen, decimal money, ISO dates, formula-safe."""

import csv
import io
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import User
from billing.models import Purchase
from invoices import services
from tests.conftest import PASSWORD
from tests.invoices.conftest import billing_set, seller_set

NOON = "2026-03-15T12:00:00Z"
_seq = itertools.count()


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _invoice(agency, organization):
    n = next(_seq)
    purchase = Purchase.objects.create(
        reference=f"cpx-{n}",
        agency=agency,
        organization=organization,
        package=agency.packages.first(),
        credits=100,
        amount_cents=4000,
        currency="EUR",
        stripe_session_id=f"cs_test_cpx_{n}",
        livemode=False,
    )
    return services.invoice_issue_for_purchase(purchase=purchase)


@pytest.mark.now(NOON)
def test_invoices_csv_lists_the_agencys_invoices_with_net_vat_and_gross(console, make_agency, make_client_user):
    agency = make_agency(active=True)
    seller_set(agency)  # Germany, prices include VAT
    organization = make_client_user(agency, company_name="+Acme Bakery").organization
    billing_set(organization, country="DE", name="@Acme Bakery GmbH")
    _invoice(agency, organization)
    other = make_agency(active=True)
    _invoice(other, make_client_user(other).organization)
    console.force_login(agency.admin)

    header, *rows = _csv(console.get("/console/invoices/invoices.csv"))

    assert header[:4] == ["number", "issue_date", "client", "buyer_name"]
    [row] = rows
    record = dict(zip(header, row, strict=True))
    assert record["number"] == "ACME-2026-000001" and record["issue_date"] == "2026-03-15"
    assert record["client"] == "'+Acme Bakery" and record["buyer_name"] == "'@Acme Bakery GmbH"
    assert (record["net"], record["vat"], record["gross"], record["currency"]) == ("33.61", "6.39", "40.00", "EUR")
    assert record["vat_rate_percent"] == "19.00"


@pytest.mark.now(NOON)
def test_clients_csv_has_the_clients_of_the_search(console, make_agency, make_client_user):
    agency = make_agency(active=True)
    make_client_user(agency, email="anna@acme.example", company_name="-1+1")
    make_client_user(agency, email="bob@other.example")
    make_client_user(make_agency(active=True), email="anna@rival.example")
    console.force_login(agency.admin)

    header, *rows = _csv(console.get("/console/users.csv", {"q": "acme"}))

    assert header == ["email", "organization", "credits_balance", "low_balance_threshold", "joined"]
    [row] = rows
    assert row[:4] == ["anna@acme.example", "'-1+1", "0", ""]
    assert row[4].startswith("2026-03-15T12:00:")
    assert len(_csv(console.get("/console/users.csv"))) == 3


def test_exports_need_the_agency_admin(console, make_agency):
    make_agency(active=True)
    for path in ["/console/invoices/invoices.csv", "/console/users.csv"]:
        assert console.get(path).status_code == 302
    console.force_login(User.objects.create_user("nobody@example.com", PASSWORD))
    for path in ["/console/invoices/invoices.csv", "/console/users.csv"]:
        assert console.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/console/invoices/invoices.csv", "/console/users.csv"])
def test_exports_take_the_same_queries_for_2_and_20_rows(console, make_agency, make_client_user, path):
    agency = make_agency(active=True)
    seller_set(agency)
    console.force_login(agency.admin)
    counts = []
    for target in (2, 20):
        while agency.invoices.count() < target:
            _invoice(agency, make_client_user(agency).organization)
        console.get(path)
        with CaptureQueriesContext(connection) as queries:
            assert len(_csv(console.get(path))) == target + 1
        counts.append(len(queries))
    assert counts[0] == counts[1]

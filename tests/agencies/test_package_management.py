"""Package management on the console's Packages page: edit (a sold package becomes a new version),
hide, reorder, and a removal that asks first, naming what clients lose."""

import itertools

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies import services
from agencies.models import CreditPackage
from billing import ledger
from billing.models import LedgerEntry, Purchase
from tests.conftest import host

_refs = itertools.count(1)


@pytest.fixture
def agency(make_agency, console):
    agency = make_agency(slug="acme", company_name="Acme Calls", active=True)
    CreditPackage.objects.filter(agency=agency).delete()  # each test sets up its own
    console.force_login(agency.admin)
    return agency


def package(agency, credits=100, price_cents=4000):
    return services.package_create(agency=agency, credits=credits, price_cents=price_cents, currency="EUR")


def sold(pkg, organization) -> Purchase:
    n = next(_refs)
    purchase = Purchase.objects.create(
        reference=f"pkgref{n}",
        agency_id=pkg.agency_id,
        organization=organization,
        package=pkg,
        credits=pkg.credits,
        amount_cents=pkg.price_cents,
        currency=pkg.currency,
        livemode=False,
        stripe_session_id=f"cs_test_pkg{n}",
        status="paid",
        fulfilled_at=timezone.now(),
    )
    # A paid purchase has its credits in the ledger (the ledger check after each test holds it to that).
    ledger.entry_post(
        organization=organization,
        amount=pkg.credits,
        kind=LedgerEntry.Kind.PURCHASE,
        reference=f"purchase:pkg{n}",
        purchase=purchase,
    )
    return purchase


def buy_page(agency, make_client_user) -> str:
    portal = Client(HTTP_HOST=host(agency))
    portal.force_login(make_client_user(agency))
    return portal.get("/billing/buy/").text


def test_editing_an_unsold_package_changes_it_in_place(console, agency):
    pkg = package(agency)
    response = console.post(
        f"/console/packages/{pkg.pk}/edit/", {"credits": "120", "price": "45.00", "currency": "EUR"}
    )
    assert response.status_code == 302
    pkg.refresh_from_db()
    assert (pkg.credits, pkg.price_cents, pkg.archived_at) == (120, 4500, None)
    assert CreditPackage.objects.filter(agency=agency).count() == 1


def test_editing_a_sold_package_makes_a_new_version_and_its_purchases_keep_the_old(console, agency, make_client_user):
    first, pkg = package(agency, credits=50, price_cents=2500), package(agency)
    services.package_move(package=pkg, up=True)  # pkg first, then first
    purchase = sold(pkg, make_client_user(agency).organization)

    console.post(f"/console/packages/{pkg.pk}/edit/", {"credits": "100", "price": "42.00", "currency": "EUR"})

    pkg.refresh_from_db()
    assert pkg.archived_at is not None and pkg.price_cents == 4000  # the old version, as it was sold
    purchase.refresh_from_db()
    assert purchase.package_id == pkg.pk
    new = CreditPackage.objects.on_sale().get(agency=agency, credits=100)
    assert (new.price_cents, new.position) == (4200, pkg.position)
    assert [p.pk for p in CreditPackage.objects.on_sale().filter(agency=agency)] == [new.pk, first.pk]
    page = buy_page(agency, make_client_user)
    assert "€42.00" in page and "€40.00" not in page


def test_a_bad_edit_is_a_form_error_and_changes_nothing(console, agency):
    pkg = package(agency)
    response = console.post(f"/console/packages/{pkg.pk}/edit/", {"credits": "0", "price": "-1", "currency": "EUR"})
    assert response.status_code == 400
    pkg.refresh_from_db()
    assert (pkg.credits, pkg.price_cents) == (100, 4000)


def test_a_hidden_package_is_off_sale_but_kept_and_can_be_shown_again(console, agency, make_client_user):
    pkg = package(agency)
    console.post(f"/console/packages/{pkg.pk}/visibility/", {"hidden": "1"})

    assert "€40.00" not in buy_page(agency, make_client_user)
    portal = Client(HTTP_HOST=host(agency))
    portal.force_login(make_client_user(agency))
    assert portal.post(f"/billing/buy/{pkg.pk}/").status_code == 404
    listing = console.get("/console/packages/").text
    assert "€40.00" in listing and "Hidden" in listing and "Show again" in listing

    console.post(f"/console/packages/{pkg.pk}/visibility/", {"hidden": "0"})
    assert "€40.00" in buy_page(agency, make_client_user)


def test_reordering_changes_the_order_clients_see(console, agency, make_client_user):
    small, large = package(agency, credits=50, price_cents=2500), package(agency, credits=500, price_cents=15000)
    page = buy_page(agency, make_client_user)
    assert page.index("€25.00") < page.index("€150.00")  # by size until the agency orders them

    console.post(f"/console/packages/{large.pk}/move/", {"direction": "up"})

    page = buy_page(agency, make_client_user)
    assert page.index("€150.00") < page.index("€25.00")
    added = package(agency, credits=10, price_cents=900)  # after a reorder, new packages go last
    assert list(CreditPackage.objects.current().filter(agency=agency)) == [large, small, added]


def test_removing_asks_first_naming_what_clients_lose(console, agency):
    pkg = package(agency)
    listing = console.get("/console/packages/").text
    assert f'<form method="post" action="/console/packages/{pkg.pk}/delete/"' not in listing  # not one click

    confirm = console.get(f"/console/packages/{pkg.pk}/delete/")
    assert confirm.status_code == 200
    assert "Clients will no longer see 100 credits for €40.00" in confirm.text
    assert CreditPackage.objects.filter(pk=pkg.pk).exists()

    assert console.post(f"/console/packages/{pkg.pk}/delete/").status_code == 302
    assert not CreditPackage.objects.filter(pk=pkg.pk).exists()


@pytest.mark.parametrize("action", ["edit", "visibility", "move", "delete"])
def test_another_agencys_package_is_not_found(console, agency, make_agency, action):
    theirs = package(make_agency())
    assert console.get(f"/console/packages/{theirs.pk}/{action}/").status_code in (404, 405)
    assert console.post(f"/console/packages/{theirs.pk}/{action}/", {"credits": "1", "price": "1"}).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.credits, theirs.hidden, theirs.archived_at) == (100, False, None)


def test_the_packages_page_query_count_does_not_grow_with_packages(console, agency, make_client_user):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert console.get("/console/packages/").status_code == 200
        return len(queries)

    for n in range(2):
        package(agency, credits=10 + n, price_cents=1000 + n)
    few = count()
    buyer = make_client_user(agency).organization
    for n in range(18):
        sold(package(agency, credits=100 + n, price_cents=5000 + n), buyer)
    assert count() == few

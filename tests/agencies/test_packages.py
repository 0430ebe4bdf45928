"""Removing a credit package: gone when never sold, taken off sale when sold."""

from agencies.models import CreditPackage
from billing.models import Purchase
from tests.conftest import host


def _sell(agency, package, client_user):
    return Purchase.objects.create(
        reference="p-test-1",
        agency=agency,
        organization=client_user.organization,
        package=package,
        credits=package.credits,
        amount_cents=package.price_cents,
        currency=package.currency,
        stripe_session_id="cs_test_sold",
        livemode=False,
    )


def test_removing_a_package_never_sold_deletes_it(console, make_agency):
    agency = make_agency(active=True)
    extra = CreditPackage.objects.create(agency=agency, credits=10, price_cents=500, currency="EUR")
    console.force_login(agency.admin)

    response = console.post(f"/console/packages/{extra.pk}/delete/", follow=True)

    assert response.status_code == 200
    assert "Package removed." in response.text
    assert not CreditPackage.objects.filter(pk=extra.pk).exists()


def test_removing_a_sold_package_takes_it_off_sale_and_keeps_the_purchase(
    console, client, make_agency, make_client_user
):
    agency = make_agency(active=True)
    sold = agency.packages.get()
    CreditPackage.objects.create(agency=agency, credits=10, price_cents=500, currency="EUR")
    buyer = make_client_user(agency)
    purchase = _sell(agency, sold, buyer)
    console.force_login(agency.admin)

    response = console.post(f"/console/packages/{sold.pk}/delete/", follow=True)

    assert response.status_code == 200
    assert "taken off sale" in response.text
    sold.refresh_from_db()
    assert sold.archived_at is not None
    assert Purchase.objects.get(pk=purchase.pk).package_id == sold.pk
    client.force_login(buyer)
    buy_page = client.get("/billing/buy/", HTTP_HOST=host(agency))
    assert buy_page.status_code == 200
    assert f"/{sold.pk}/" not in buy_page.text
    assert client.post(f"/billing/buy/{sold.pk}/", HTTP_HOST=host(agency)).status_code == 404


def test_portal_with_only_archived_packages_cannot_be_activated(console, make_agency, make_client_user):
    from agencies import services

    agency = make_agency(active=True)
    sold = agency.packages.get()
    _sell(agency, sold, make_client_user(agency))
    services.package_remove(package=sold)
    services.agency_set_active(agency=agency, active=False)

    assert "At least one credit package" in services.agency_set_active(agency=agency, active=True)

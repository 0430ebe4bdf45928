"""One key, and the portal does the rest: provisioning on the agency's Stripe account (the stand-in, over HTTP)."""

import pytest

from agencies import services
from agencies.models import Agency, CreditPackage
from billing import provisioning, stripe_api
from billing.models import Purchase
from billing.stripe_check import stripe_check
from tests.billing.flows import bought_and_paid, checkout_start, deliver_last, success_page
from tests.conftest import seller_details_add
from tests.stripe_fixtures import StandInAccount


def objects(account: StandInAccount) -> dict:
    """What the account holds: products, prices (active or not) and webhook endpoints, by id."""
    client = account.client
    return {
        "products": sorted(p.id for p in client.v1.products.list().data),
        "prices": sorted((p.id, p.active) for p in client.v1.prices.list().data),
        "endpoints": sorted(e.id for e in client.v1.webhook_endpoints.list().data),
    }


def restricted_key(account: StandInAccount, permissions: list[str]) -> str:
    return account.call("/_standin/restricted_keys", {f"permissions[{i}]": p for i, p in enumerate(permissions)})[
        "secret_key"
    ]


def test_saving_a_key_creates_product_prices_and_the_webhook_endpoint(keyed_agency):
    agency = keyed_agency(slug="acme")
    client = agency.stripe.client
    [product] = client.v1.products.list().data
    [price] = client.v1.prices.list().data
    [endpoint] = client.v1.webhook_endpoints.list().data
    package = agency.packages.get()
    assert (agency.stripe_product_id, package.stripe_price_id) == (product.id, price.id)
    assert (price.unit_amount, price.currency, price.type, price.active) == (4000, "eur", "one_time", True)
    assert price.metadata.to_dict() == {"portal_agency": str(agency.pk), "portal_package": str(package.pk)}
    assert endpoint.url == "http://localhost/api/webhooks/stripe/acme"
    assert sorted(endpoint.enabled_events) == sorted(stripe_api.WEBHOOK_EVENTS)
    assert agency.stripe_webhook_endpoint_id == endpoint.id and agency.stripe_webhook_secret.startswith("whsec_")
    assert agency.stripe_price_id == "" and agency.stripe_account_name
    assert services.activation_missing(agency) == []


def test_provisioning_twice_creates_nothing_new(keyed_agency):
    agency = keyed_agency()
    before = objects(agency.stripe)
    secret = agency.stripe_webhook_secret
    report = provisioning.stripe_provision(agency=agency)
    assert report.created == [] and report.changed == []
    assert objects(agency.stripe) == before
    agency.refresh_from_db()
    assert agency.stripe_webhook_secret == secret
    assert "Already in place: the product" in " ".join(report.sentences())


def test_packages_added_repriced_and_removed_get_new_and_archived_prices(keyed_agency):
    agency = keyed_agency(packages=((100, 4000, "EUR"), (500, 15000, "EUR")))
    small, large = agency.packages.order_by("credits")
    old_small, old_large = small.stripe_price_id, large.stripe_price_id
    added = services.package_create(agency=agency, credits=1000, price_cents=25000, currency="USD")
    CreditPackage.objects.filter(pk=small.pk).update(price_cents=3500)  # repriced
    services.package_remove(package=large)

    report = provisioning.stripe_provision(agency=agency)
    client = agency.stripe.client
    small.refresh_from_db()
    added.refresh_from_db()
    assert small.stripe_price_id != old_small
    assert client.v1.prices.retrieve(small.stripe_price_id).unit_amount == 3500
    assert client.v1.prices.retrieve(added.stripe_price_id).currency == "usd"
    assert client.v1.prices.retrieve(old_small).active is False
    assert client.v1.prices.retrieve(old_large).active is False
    assert not CreditPackage.objects.filter(pk=large.pk).exists()
    text = " ".join(report.sentences())
    assert f"archived the price {old_small}" in text and f"archived the price {old_large}" in text
    # And a third run changes nothing.
    before = objects(agency.stripe)
    assert provisioning.stripe_provision(agency=agency).created == []
    assert objects(agency.stripe) == before


def test_a_package_back_at_its_old_price_gets_its_archived_price_again(keyed_agency):
    agency = keyed_agency()
    package = agency.packages.get()
    first = package.stripe_price_id
    CreditPackage.objects.filter(pk=package.pk).update(price_cents=3000)
    provisioning.stripe_provision(agency=agency)
    CreditPackage.objects.filter(pk=package.pk).update(price_cents=4000)
    report = provisioning.stripe_provision(agency=agency)
    package.refresh_from_db()
    assert package.stripe_price_id == first and agency.stripe.client.v1.prices.retrieve(first).active is True
    assert f"reactivated the price {first}" in " ".join(report.sentences())


def test_checkout_uses_the_packages_own_price_and_the_stored_secret_credits(client, keyed_agency, make_client_user):
    agency = keyed_agency()
    services.agency_set_active(agency=agency, active=True)
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    [item] = agency.stripe.call(f"/v1/checkout/sessions/{purchase.stripe_session_id}/line_items", method="GET")["data"]
    assert item["price"]["id"] == agency.packages.get().stripe_price_id
    # The delivery is signed with the secret Stripe showed when the portal registered the endpoint.
    response = deliver_last(client, agency, "checkout.session.completed")
    assert response.status_code == 200
    assert Purchase.objects.get(pk=purchase.pk).status == Purchase.Status.PAID


def test_a_package_without_a_price_yet_still_sells_at_its_amount(client, keyed_agency, make_client_user):
    agency = keyed_agency()
    services.agency_set_active(agency=agency, active=True)
    package = services.package_create(agency=agency, credits=300, price_cents=9900, currency="EUR")
    user = make_client_user(agency)
    _, purchase = checkout_start(client, agency, user, package=package)
    [item] = agency.stripe.call(f"/v1/checkout/sessions/{purchase.stripe_session_id}/line_items", method="GET")["data"]
    assert (item["amount_total"], item["price"]["product"]) == (9900, agency.stripe_product_id)


def test_a_new_key_of_another_account_provisions_there_and_says_what_moved(console, keyed_agency, stripe_account):
    agency = keyed_agency()
    first = objects(agency.stripe)
    other = stripe_account()
    console.force_login(agency.admin)
    response = console.post("/console/stripe/", {"secret_key": other.secret_key}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    old_id = agency.stripe.call("/v1/account", method="GET")["id"]
    new_id = other.call("/v1/account", method="GET")["id"]
    assert "Moved from the Stripe account" in text and old_id in text and new_id in text
    saved = Agency.objects.get(pk=agency.pk)
    moved = objects(other)
    assert saved.stripe_secret_key == other.secret_key
    assert moved["products"] == [saved.stripe_product_id] and len(moved["prices"]) == 1
    assert moved["endpoints"] == [saved.stripe_webhook_endpoint_id]
    assert saved.stripe_webhook_secret != agency.stripe_webhook_secret
    assert objects(agency.stripe) == first  # the old account is left as it was


def test_a_key_of_another_account_than_the_connected_one_is_refused(console, keyed_agency, stripe_account):
    agency = keyed_agency()
    Agency.objects.filter(pk=agency.pk).update(stripe_account_id="acct_connected0001", stripe_account_name="Acme Ltd")
    other = stripe_account()
    console.force_login(agency.admin)
    response = console.post("/console/stripe/", {"secret_key": other.secret_key})
    assert response.status_code == 400
    assert "but this portal is connected to Acme Ltd (acct_connected0001)" in response.content.decode()
    assert Agency.objects.get(pk=agency.pk).stripe_secret_key == agency.stripe_secret_key
    assert objects(other) == {"products": [], "prices": [], "endpoints": []}


def test_a_live_key_on_a_test_portal_is_refused(console, make_agency, stripe_account):
    agency = make_agency()
    live = stripe_account(live=True)
    console.force_login(agency.admin)
    response = console.post("/console/stripe/", {"secret_key": live.secret_key})
    assert response.status_code == 400
    assert "This is a live key, but this portal takes test keys" in response.content.decode()
    assert live.secret_key not in response.content.decode()
    assert Agency.objects.get(pk=agency.pk).stripe_secret_key == ""


def test_a_test_key_on_a_live_portal_is_refused(console, make_agency, stripe_account, settings):
    settings.PLATFORM_STRIPE_SECRET_KEY = "sk_live_platform00000000"
    agency = make_agency()
    console.force_login(agency.admin)
    response = console.post("/console/stripe/", {"secret_key": stripe_account().secret_key})
    assert response.status_code == 400
    assert "This is a test key, but this portal takes live keys" in response.content.decode()


@pytest.mark.parametrize(
    "missing, instead, message",
    [
        (
            "prices:write",
            ["prices:read"],
            (
                "This restricted key may not write Prices: in Stripe → Developers → API keys, "
                "edit the key and set Prices to Write."
            ),
        ),
        (
            "webhook_endpoints:write",
            [],
            (
                "This restricted key may not read Webhook Endpoints: in Stripe → Developers → API keys, "
                "edit the key and set Webhook Endpoints to Write."
            ),
        ),
    ],
)
def test_a_restricted_key_lacking_a_permission_gets_the_precise_message(
    console, make_agency, stripe_account, missing, instead, message
):
    agency = make_agency()
    services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
    account = stripe_account()
    key = restricted_key(account, [p.code for p in provisioning.KEY_PERMISSIONS if p.code != missing] + instead)
    console.force_login(agency.admin)
    response = console.post("/console/stripe/", {"secret_key": key})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Agency.objects.get(pk=agency.pk).stripe_secret_key == ""


def test_a_restricted_key_with_exactly_the_listed_permissions_provisions_and_sells(
    client, console, make_agency, stripe_account, make_client_user
):
    agency = make_agency(slug="rk-agency")
    services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
    account = stripe_account()
    key = restricted_key(account, [p.code for p in provisioning.KEY_PERMISSIONS])
    console.force_login(agency.admin)
    response = console.post("/console/stripe/", {"secret_key": key}, follow=True)
    assert "Stripe is set up." in response.content.decode()
    seller_details_add(agency)
    response = console.post("/console/activation/", {"active": "1", "confirm": "1"}, follow=True)
    assert "Your portal is live." in response.content.decode()
    agency = Agency.objects.get(pk=agency.pk)
    agency.stripe = account
    user = make_client_user(agency)
    purchase = bought_and_paid(client, agency, user)
    assert success_page(client, agency, purchase).status_code == 200
    assert Purchase.objects.get(pk=purchase.pk).status == Purchase.Status.PAID


def test_the_page_lists_the_permissions_a_restricted_key_needs(console, make_agency):
    agency = make_agency()
    console.force_login(agency.admin)
    text = console.get("/console/stripe/").content.decode()
    for permission in provisioning.KEY_PERMISSIONS:
        assert f"<td>{permission.resource}</td><td>{permission.access}</td>" in text
    assert "billing/console/_connect_panel.html" not in text  # the include rendered, not printed


def test_a_key_stripe_refuses_is_not_saved_and_not_shown(console, make_agency, stripe_base):
    agency = make_agency()
    console.force_login(agency.admin)
    response = console.post("/console/stripe/", {"secret_key": "sk_test_NotARealKey123456"})
    assert response.status_code == 400
    assert "Stripe refused this key" in response.content.decode()
    assert "NotARealKey" not in response.content.decode()


def test_a_connected_agency_is_provisioned_the_same_way_without_a_webhook_endpoint(
    client, connected_agency, make_client_user
):
    agency = connected_agency()
    report = provisioning.stripe_provision(agency=agency)
    assert report.webhook_endpoint_id == ""
    again = provisioning.stripe_provision(agency=agency)
    assert again.created == []
    [product] = agency.stripe.client.v1.products.list().data
    assert agency.stripe.client.v1.webhook_endpoints.list().data == []  # the platform's Connect endpoint serves it
    saved = Agency.objects.get(pk=agency.pk)
    package = saved.packages.get()
    assert saved.stripe_product_id == product.id and package.stripe_price_id
    assert stripe_check(agency=saved) == []
    # Checkout runs on the connected account with the package's own Price.
    purchase = bought_and_paid(client, agency, make_client_user(agency))
    [item] = agency.stripe.call(f"/v1/checkout/sessions/{purchase.stripe_session_id}/line_items", method="GET")["data"]
    assert item["price"]["id"] == package.stripe_price_id

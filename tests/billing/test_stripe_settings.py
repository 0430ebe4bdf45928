"""Saving Stripe settings asks Stripe whether they work and says precisely what does not."""

import pytest

from agencies.models import Agency
from tests.stripe_fixtures import closed_port


def _post(console, agency, **changes):
    data = {
        "stripe_publishable_key": agency.stripe_publishable_key,
        "stripe_secret_key": "",
        "stripe_product_id": agency.stripe_product_id,
        "stripe_price_id": agency.stripe_price_id,
        "stripe_webhook_secret": "",
        **changes,
    }
    console.force_login(agency.admin)
    return console.post("/console/stripe/", data, follow=True)


def _register_webhook(agency):
    agency.stripe.client.v1.webhook_endpoints.create(
        {
            "url": f"http://localhost/api/webhooks/stripe/{agency.slug}",
            "enabled_events": [
                "checkout.session.completed",
                "checkout.session.async_payment_succeeded",
                "checkout.session.async_payment_failed",
                "checkout.session.expired",
                "charge.refunded",
                "charge.dispute.created",
                "charge.dispute.closed",
                "payment_intent.succeeded",
                "payment_intent.payment_failed",
            ],
        }
    )


def test_settings_stripe_accepts_are_saved(console, stripe_agency):
    agency = stripe_agency()
    _register_webhook(agency)
    price = agency.stripe.client.v1.prices.create(
        {"currency": "eur", "unit_amount": 4000, "product": agency.stripe_product_id}
    )
    response = _post(console, agency, stripe_price_id=price.id)
    assert response.status_code == 200
    assert "Stripe settings saved." in response.text and "could not be reached" not in response.text
    assert "webhook endpoint" not in response.text
    assert Agency.objects.get(pk=agency.pk).stripe_price_id == price.id


def _refused(response, agency):
    assert response.status_code == 400
    assert "Stripe settings saved." not in response.text
    saved = Agency.objects.get(pk=agency.pk)
    assert (saved.stripe_secret_key, saved.stripe_product_id, saved.stripe_price_id) == (
        agency.stripe_secret_key,
        agency.stripe_product_id,
        agency.stripe_price_id,
    )
    return response.text


def test_a_key_stripe_refuses_is_not_saved(console, stripe_agency):
    agency = stripe_agency()
    text = _refused(_post(console, agency, stripe_secret_key="sk_test_NotARealKey123456"), agency)
    assert "Stripe refused this secret key." in text
    assert "NotARealKey" not in text


def test_a_price_that_does_not_exist_is_named(console, stripe_agency):
    agency = stripe_agency()
    text = _refused(_post(console, agency, stripe_price_id="price_Missing0001"), agency)
    assert "There is no price price_Missing0001 in this Stripe account (test mode)." in text


def test_a_product_that_does_not_exist_is_named(console, stripe_agency):
    agency = stripe_agency()
    text = _refused(_post(console, agency, stripe_product_id="prod_Missing0001"), agency)
    assert "There is no product prod_Missing0001 in this Stripe account (test mode)." in text
    assert f"belongs to product {agency.stripe_product_id}, not to prod_Missing0001" in text


def test_a_recurring_price_is_refused(console, stripe_agency):
    agency = stripe_agency()
    price = agency.stripe.client.v1.prices.create(
        {
            "currency": "eur",
            "unit_amount": 4000,
            "product": agency.stripe_product_id,
            "recurring": {"interval": "month"},
        }
    )
    text = _refused(_post(console, agency, stripe_price_id=price.id), agency)
    assert f"The price {price.id} is a recurring (subscription) price." in text


def test_a_price_of_another_product_is_refused(console, stripe_agency):
    agency = stripe_agency()
    other = agency.stripe.client.v1.products.create({"name": "Something else"})
    price = agency.stripe.client.v1.prices.create({"currency": "eur", "unit_amount": 4000, "product": other.id})
    text = _refused(_post(console, agency, stripe_price_id=price.id), agency)
    assert f"The price {price.id} belongs to product {other.id}, not to {agency.stripe_product_id}." in text


@pytest.mark.parametrize("currency, amount, shown", [("eur", 4500, "45.00 EUR"), ("usd", 4000, "40.00 USD")])
def test_a_price_no_package_costs_is_refused(console, stripe_agency, currency, amount, shown):
    agency = stripe_agency()
    price = agency.stripe.client.v1.prices.create(
        {"currency": currency, "unit_amount": amount, "product": agency.stripe_product_id}
    )
    text = _refused(_post(console, agency, stripe_price_id=price.id), agency)
    assert (
        f"The price {price.id} is {shown}, but no package costs that (your packages: 100 credits for 40.00 EUR)."
        in text
    )


def test_when_stripe_is_unreachable_the_settings_are_saved_with_a_warning(console, stripe_agency, settings):
    agency = stripe_agency()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    response = _post(console, agency, stripe_price_id="price_Unchecked01")
    assert "Stripe settings saved. Stripe could not be reached to check them" in response.text
    assert Agency.objects.get(pk=agency.pk).stripe_price_id == "price_Unchecked01"


def test_a_missing_webhook_endpoint_is_a_warning(console, stripe_agency):
    agency = stripe_agency()
    response = _post(console, agency)
    assert "Stripe settings saved." in response.text
    assert (
        "No enabled webhook endpoint in this Stripe account sends events to "
        f"http://localhost/api/webhooks/stripe/{agency.slug}"
    ) in response.text


def test_secrets_are_never_rendered(console, stripe_agency):
    agency = stripe_agency()
    response = _post(console, agency, stripe_product_id="prod_Missing0001")
    assert agency.stripe_secret_key not in response.text
    assert agency.stripe_webhook_secret not in response.text


def test_a_new_secret_key_alone_is_checked_against_stripe(console, stripe_agency, stripe_account):
    agency = stripe_agency()
    other = stripe_account()
    response = _post(console, agency, stripe_secret_key=other.secret_key, stripe_product_id="", stripe_price_id="")
    assert "Stripe settings saved." in response.text
    assert Agency.objects.get(pk=agency.pk).stripe_secret_key == other.secret_key
    refused = _post(
        console, agency, stripe_secret_key="sk_test_NotARealKey123456", stripe_product_id="", stripe_price_id=""
    )
    assert refused.status_code == 400 and "Stripe refused this secret key." in refused.text

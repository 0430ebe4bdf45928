from invoices import services
from tests.billing.flows import bought_and_paid, deliver_last
from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_standin  # noqa: F401

SELLER_VAT_ID = "DE136695976"


def seller_set(agency, *, country="DE", vat_id=SELLER_VAT_ID, prefix="ACME", include=True, name="Acme Calls GmbH"):
    return services.seller_details_save(
        agency=agency,
        data={
            "company_name": name,
            "address_line1": "Hauptstraße 1",
            "address_line2": "",
            "postal_code": "10115",
            "city": "Berlin",
            "country": country,
            "vat_id": vat_id,
            "invoice_prefix": prefix,
            "prices_include_vat": include,
        },
    )


def billing_set(organization, *, country, vat_id="", name="Client BV"):
    return services.billing_details_save(
        organization=organization,
        data={
            "company_name": name,
            "address_line1": "Damrak 1",
            "address_line2": "",
            "postal_code": "1012 LG",
            "city": "Amsterdam",
            "country": country,
            "vat_id": vat_id,
        },
    )


def paid(client, agency, user):
    """Buy the first package, pay on the stand-in and deliver the webhook: the real fulfilment path."""
    purchase = bought_and_paid(client, agency, user)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    return purchase

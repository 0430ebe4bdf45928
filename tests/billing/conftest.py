# Stripe stand-in fixtures for the billing tests, and a paid purchase.
import pytest

from tests.billing.flows import bought_and_paid, deliver_last
from tests.stripe_fixtures import (  # noqa: F401
    connected_agency,
    keyed_agency,
    stripe_account,
    stripe_agency,
    stripe_base,
    stripe_platform,
    stripe_standin,
)


@pytest.fixture
def credited(console, client, stripe_agency, make_client_user):  # noqa: F811
    """A client's 100-credit purchase (€40) paid and credited, and the console logged in as its agency's admin."""
    agency = stripe_agency()
    user = make_client_user(agency, company_name="Acme Bakery")
    purchase = bought_and_paid(client, agency, user)
    assert deliver_last(client, agency, "checkout.session.completed").status_code == 200
    purchase.refresh_from_db()
    console.force_login(agency.admin)
    return agency, user.organization, purchase


@pytest.fixture
def admin_console(console, make_agency, make_client_user):
    """An agency, one of its clients, and the console logged in as the agency's admin."""
    agency = make_agency(active=True)
    user = make_client_user(agency, company_name="Acme Bakery")
    console.force_login(agency.admin)
    return console, agency, user.organization

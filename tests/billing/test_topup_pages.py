"""The payment methods and top-up pages: a client's on its portal, an agency admin's in the console."""

import re

import pytest

from billing.models import Purchase
from tests.billing.flows import deliver
from tests.billing.topups import saved_method
from tests.conftest import host


@pytest.fixture
def client_user(stripe_agency, make_client_user):
    agency = stripe_agency()
    user = make_client_user(agency)
    user.agency = agency
    return user


def _portal(client, user, path, data=None):
    client.force_login(user)
    if data is None:
        return client.get(path, HTTP_HOST=host(user.agency))
    return client.post(path, data, HTTP_HOST=host(user.agency))


def _token(page: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def test_a_client_adds_a_card_through_stripe_and_sees_it_as_default(client, client_user):
    agency = client_user.agency
    assert "No payment method saved yet" in _portal(client, client_user, "/billing/payment-methods/").text
    started = _portal(client, client_user, "/billing/payment-methods/add/", {})
    assert started.status_code == 303 and started["Location"].startswith(agency.stripe.base_url)
    session_id = started["Location"].rsplit("/", 1)[1]
    back = agency.stripe.save_payment_method(session_id, "pm_card_visa")
    assert back.endswith(f"/billing/payment-methods/?setup={session_id}")
    page = _portal(client, client_user, back.split(host(agency), 1)[1])
    assert "Your payment method was saved" in page.text and "Visa ending 4242" in page.text
    assert 'data-testid="default-method"' in page.text
    # The webhook that follows changes nothing more.
    assert deliver(client, agency, agency.stripe.last_delivery("checkout.session.completed")).status_code == 200


def test_removing_a_method_asks_first_then_detaches_it(client, client_user):
    agency = client_user.agency
    method = saved_method(agency, client_user.organization)
    path = f"/billing/payment-methods/{method}/remove/"
    asked = _portal(client, client_user, path, {})
    assert asked.status_code == 200 and "Remove payment method" in asked.text
    assert agency.stripe.client.v1.payment_methods.retrieve(method).customer
    done = _portal(client, client_user, path, {"confirm": "1"})
    assert done.status_code == 302
    assert agency.stripe.client.v1.payment_methods.retrieve(method).customer is None


def test_another_clients_method_is_404_on_the_pages(client, client_user, make_client_user):
    agency = client_user.agency
    theirs = saved_method(agency, make_client_user(agency).organization)
    for action in ("remove", "default"):
        response = _portal(client, client_user, f"/billing/payment-methods/{theirs}/{action}/", {"confirm": "1"})
        assert response.status_code == 404
    assert agency.stripe.client.v1.payment_methods.retrieve(theirs).customer


def test_a_client_tops_up_and_sees_the_credits_added(client, client_user):
    method = saved_method(client_user.agency, client_user.organization)
    page = _portal(client, client_user, "/billing/topup/")
    assert page.status_code == 200 and 'for="id_amount"' in page.text and "Visa ending 4242" in page.text
    data = {"amount": "20", "payment_method": method, "token": _token(page.text)}
    paid = _portal(client, client_user, "/billing/topup/", data)
    assert paid.status_code == 302
    again = _portal(client, client_user, "/billing/topup/", data)  # the same form sent twice
    assert again.status_code == 302 and Purchase.objects.count() == 1
    shown = _portal(client, client_user, paid["Location"])
    assert "50 credits added" in shown.text
    client_user.organization.refresh_from_db()
    assert client_user.organization.credits_balance == 50


def test_a_declined_card_is_a_message_on_the_payment_method_field(client, client_user):
    method = saved_method(client_user.agency, client_user.organization, "pm_card_chargeDeclinedInsufficientFunds")
    page = _portal(client, client_user, "/billing/topup/")
    response = _portal(
        client, client_user, "/billing/topup/", {"amount": "20", "payment_method": method, "token": _token(page.text)}
    )
    assert response.status_code == 402
    assert 'id="id_payment_method_error"' in response.text and "insufficient_funds" in response.text


def test_a_payment_needing_authentication_links_to_the_bank_and_credits_on_return(client, client_user):
    agency = client_user.agency
    method = saved_method(agency, client_user.organization, "pm_card_authenticationRequired")
    page = _portal(client, client_user, "/billing/topup/")
    response = _portal(
        client, client_user, "/billing/topup/", {"amount": "20", "payment_method": method, "token": _token(page.text)}
    )
    assert response.status_code == 402
    link = re.search(r'href="([^"]+)" data-testid="authenticate-link"', response.text)
    assert link
    back = agency.stripe.authenticate(link.group(1).replace("&amp;", "&"))
    shown = _portal(client, client_user, back.split(host(agency), 1)[1])
    assert "50 credits added" in shown.text


@pytest.mark.parametrize(
    ("amount", "message"), [("5", "The smallest top-up is"), ("abc", "Enter an amount"), ("20.001", "Enter an amount")]
)
def test_a_bad_amount_is_an_error_on_the_amount_field(client, client_user, amount, message):
    method = saved_method(client_user.agency, client_user.organization)
    page = _portal(client, client_user, "/billing/topup/")
    response = _portal(
        client, client_user, "/billing/topup/", {"amount": amount, "payment_method": method, "token": _token(page.text)}
    )
    assert response.status_code == 400 and message in response.text
    assert (
        'aria-describedby="id_amount_helptext id_amount_error"' in response.text or "id_amount_error" in response.text
    )
    assert not Purchase.objects.exists()


def test_an_agency_admin_tops_up_platform_minutes_in_the_console(console, make_agency, stripe_platform):
    agency = make_agency(active=True)
    method = saved_method(agency, None, stand_in=stripe_platform)
    console.force_login(agency.admin)
    page = console.get("/console/billing/minutes/topup/")
    assert page.status_code == 200 and "Top up minutes" in page.text
    paid = console.post(
        "/console/billing/minutes/topup/", {"amount": "14", "payment_method": method, "token": _token(page.text)}
    )
    assert paid.status_code == 302
    assert "200 minutes added" in console.get(paid["Location"]).text
    agency.refresh_from_db()
    assert agency.minutes_balance == 200
    listed = console.get("/console/billing/minutes/payment-methods/")
    assert "Visa ending 4242" in listed.text


def test_the_agency_sets_its_top_up_price_per_credit(console, stripe_agency):
    agency = stripe_agency()
    console.force_login(agency.admin)
    page = console.get("/console/billing/topup-price/")
    assert "€0.40" in page.text or "0.40" in page.text
    assert console.post("/console/billing/topup-price/", {"rate": "0.25"}).status_code == 302
    agency.refresh_from_db()
    assert agency.topup_rate_cents == 25
    bad = console.post("/console/billing/topup-price/", {"rate": "-1"})
    assert bad.status_code == 400 and "id_rate_error" in bad.text
    assert console.post("/console/billing/topup-price/", {"rate": ""}).status_code == 302
    agency.refresh_from_db()
    assert agency.topup_rate_cents is None

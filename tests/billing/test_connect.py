"""Connect with Stripe from the console: OAuth, a new account with Stripe's onboarding, disconnecting."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from agencies import services
from agencies.models import Agency
from billing import accounts, connect, stripe_api
from tests.stripe_fixtures import CONNECT_CLIENT_ID, browser_get, oauth_consent

pytestmark = pytest.mark.usefixtures("stripe_platform")


def _start(console, agency, user=None):
    console.force_login(user or agency.admins.get())
    response = console.post("/console/billing/connect/start/")
    assert response.status_code == 303
    return response["Location"]


def _return(console, location: str):
    """The browser comes back from Stripe to the portal's callback; follow to the Stripe page."""
    split = urlsplit(location)
    assert split.path == "/console/billing/connect/return/"
    return console.get(split.path, parse_qs(split.query), follow=True)


def _text(response) -> str:
    return response.content.decode()


def test_oauth_connects_the_agencys_existing_account(console, make_agency, stripe_base):
    agency = make_agency()
    authorize = _start(console, agency)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{stripe_base}/oauth/authorize?")
    assert query["client_id"] == [CONNECT_CLIENT_ID] and query["scope"] == ["read_write"]
    assert query["redirect_uri"] == ["http://localhost/console/billing/connect/return/"]

    page = _return(console, oauth_consent(authorize, business_name="Acme Calls BV"))

    agency.refresh_from_db()
    assert agency.stripe_account_id.startswith("acct_") and agency.stripe_disconnected_at is None
    assert agency.stripe_account_name == "Acme Calls BV" and agency.stripe_charges_enabled
    assert agency.stripe_secret_key == ""  # only the account id is kept, never an access token
    assert "Connected as \u201cAcme Calls BV\u201d." in _text(page)
    assert 'data-testid="connect-disconnect"' in _text(page)


def test_replayed_state_is_refused_and_changes_nothing(console, make_agency):
    agency = make_agency()
    back = oauth_consent(_start(console, agency))
    _return(console, back)
    first = Agency.objects.get(pk=agency.pk).stripe_account_id
    # The same callback again: its state was used (even with a new round trip started meanwhile).
    console.post("/console/billing/connect/disconnect/")
    _start(console, agency)
    page = _return(console, back)
    assert "already used" in _text(page)
    agency.refresh_from_db()
    assert agency.stripe_account_id == first and agency.stripe_disconnected_at is not None


def test_state_of_another_agency_is_refused(console, make_agency):
    mine, theirs = make_agency(), make_agency()
    back = oauth_consent(_start(console, theirs))  # started by the other agency's admin
    console.force_login(mine.admins.get())
    page = _return(console, back)
    assert "another portal or another login" in _text(page)
    assert not Agency.objects.filter(pk__in=[mine.pk, theirs.pk]).exclude(stripe_account_id="").exists()


def test_cancel_on_stripe_says_so_and_changes_nothing(console, make_agency):
    agency = make_agency()
    page = _return(console, oauth_consent(_start(console, agency), cancel=True))
    assert "You cancelled connecting your Stripe account" in _text(page)
    assert Agency.objects.get(pk=agency.pk).stripe_account_id == ""


def test_expired_state_is_refused(console, make_agency, time_machine):
    agency = make_agency()
    back = oauth_consent(_start(console, agency))
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=11))  # the state lives 10 minutes
    page = _return(console, back)
    assert "expired" in _text(page)
    assert Agency.objects.get(pk=agency.pk).stripe_account_id == ""


def test_account_already_connected_to_another_portal_is_refused(console, make_agency, connected_agency):
    other = connected_agency()
    agency = make_agency()
    with pytest.raises(connect.ConnectRefused, match="already connected to another portal"):
        connect.account_connect(agency=agency, account_id=other.stripe_account_id)
    assert Agency.objects.get(pk=agency.pk).stripe_account_id == ""


def test_new_account_onboarding_incomplete_then_complete(console, make_agency):
    agency = make_agency()
    console.force_login(agency.admins.get())
    response = console.post("/console/billing/connect/create/")
    assert response.status_code == 303
    onboarding = response["Location"]
    agency.refresh_from_db()
    assert agency.stripe_account_id and not agency.stripe_charges_enabled and not agency.stripe_details_submitted

    # The admin opens Stripe's page but leaves without submitting: the return page reads the account.
    status, _, _ = browser_get(onboarding)
    assert status == 200
    page = console.get("/console/billing/connect/onboarding/return/", follow=True)
    assert "Onboarding incomplete: Stripe still needs the business type, a bank account for payouts" in _text(page)
    assert 'data-testid="charges-disabled"' in _text(page)

    # The link was used: opening it again goes to refresh_url, which mints a new one behind login.
    _, _, location = browser_get(onboarding)
    assert urlsplit(location).path == "/console/billing/connect/onboarding/refresh/"
    fresh = console.get(urlsplit(location).path)
    assert fresh.status_code == 303 and fresh["Location"] != onboarding
    browser_get(fresh["Location"])
    _, _, back = browser_get(fresh["Location"], {})
    assert urlsplit(back).path == "/console/billing/connect/onboarding/return/"
    page = console.get(urlsplit(back).path, follow=True)
    agency.refresh_from_db()
    assert agency.stripe_charges_enabled and agency.stripe_details_submitted and agency.stripe_requirements == []
    assert "Connected as" in _text(page)


def test_refresh_url_needs_login(client, connected_agency):
    connected_agency(onboarded=False)
    response = client.get("/console/billing/connect/onboarding/refresh/", HTTP_HOST="localhost")
    assert response.status_code == 302 and "login" in response["Location"]


def test_disconnect_tells_stripe_and_keeps_history(console, connected_agency):
    agency = connected_agency()
    account_id = agency.stripe_account_id
    console.force_login(agency.admin)
    page = console.post("/console/billing/connect/disconnect/", follow=True)
    agency.refresh_from_db()
    assert agency.stripe_disconnected_at is not None and agency.stripe_account_id == account_id
    assert "Disconnected from \u201cAcme Calls\u201d." in _text(page)
    # Stripe no longer lets the platform act on the account.
    deauthorized = agency.platform.deliveries("account.application.deauthorized")
    assert deauthorized and f'"account": "{account_id}"' in deauthorized[-1]["payload"]


def test_connect_is_not_offered_when_not_configured(console, make_agency, settings):
    settings.STRIPE_CONNECT_CLIENT_ID = ""
    agency = make_agency()
    console.force_login(agency.admins.get())
    assert 'data-testid="connect-panel"' not in _text(console.get("/console/stripe/"))
    assert console.post("/console/billing/connect/start/").status_code == 404


def test_test_account_button_connects_a_ready_account_and_puts_the_packages_on_it(console, make_agency):
    agency = make_agency()
    package = services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
    console.force_login(agency.admins.get())
    assert 'data-testid="connect-test-account"' in _text(console.get("/console/stripe/"))
    page = console.post("/console/billing/connect/test-account/", follow=True)
    agency.refresh_from_db()
    assert agency.stripe_account_id and agency.stripe_charges_enabled and agency.stripe_disconnected_at is None
    assert "Connected as" in _text(page)

    # The package's Price was made on the connected account (platform key + Stripe-Account), nowhere else.
    package.refresh_from_db()
    price = stripe_api.price_retrieve(account=accounts.agency_account(agency), price_id=package.stripe_price_id)
    assert (price.unit_amount, price.currency, price.type) == (4000, "eur", "one_time")
    assert "Created" in _text(page) and "100 credits" in _text(page)
    with pytest.raises(stripe_api.StripeRejected):
        stripe_api.price_retrieve(account=accounts.platform_account(), price_id=package.stripe_price_id)


def test_test_account_button_is_absent_off_the_standin(console, make_agency, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    agency = make_agency()
    console.force_login(agency.admins.get())
    assert 'data-testid="connect-test-account"' not in _text(console.get("/console/stripe/"))
    assert console.post("/console/billing/connect/test-account/").status_code == 404


def test_demo_registers_the_platforms_connect_endpoint(settings, stripe_base, connected_agency):
    from billing import demo_stripe

    agency = connected_agency(onboarded=False)
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = "whsec_platformdemo0000000000000000"
    assert demo_stripe.platform_connect()
    agency.stripe.onboard()
    urls = [d["url"] for d in agency.platform.deliveries("account.updated")]
    assert urls[-1] == "http://localhost/api/webhooks/stripe/connect"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_account_connects_to_one_portal_even_when_two_try_at_once(make_agency, stripe_platform):
    from tests.billing.flows import in_threads

    first, second = make_agency(), make_agency()
    account_id = stripe_platform.client.v1.accounts.create({"type": "standard"}).id

    def attempt(i):
        try:
            connect.account_connect(agency=(first, second)[i], account_id=account_id)
            return "connected"
        except connect.ConnectRefused:
            return "refused"

    assert sorted(in_threads(2, attempt)) == ["connected", "refused"]
    assert Agency.objects.filter(stripe_account_id=account_id, stripe_disconnected_at__isnull=True).count() == 1

"""The agency console: secrets, margins, activation, the users table, and that
every view serves the logged-in admin's own agency and nobody else's."""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.views.debug import SafeExceptionReporterFilter

from agencies import crypto, services
from agencies.models import Agency, CreditPackage, Organization, User
from tests.conftest import credits_add, seller_details_add

SECRET = "sk_test_SECRETvalue9876"
HOOK_SECRET = "whsec_HOOKsecretvalue5432"
STRIPE = {
    "stripe_publishable_key": "pk_test_publishable1111",
    "stripe_secret_key": SECRET,
    "stripe_product_id": "prod_widget1",
    "stripe_price_id": "price_widget1",
    "stripe_webhook_secret": HOOK_SECRET,
}


@pytest.fixture
def agency(make_agency, console):
    agency = make_agency(slug="acme", company_name="Acme Calls")
    console.force_login(agency.admin)
    return agency


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Stripe secrets ----------------------------------------------------------------


def test_saved_secrets_are_shown_only_as_their_last_four_characters(console, agency):
    response = console.post("/console/stripe/", STRIPE, follow=True)
    assert response.status_code == 200
    assert SECRET not in response.text and HOOK_SECRET not in response.text
    assert "…9876" in response.text and "…5432" in response.text
    # The publishable key is not a secret and stays editable.
    assert 'value="pk_test_publishable1111"' in response.text


def test_rejected_form_does_not_echo_the_typed_secrets(console, agency):
    response = console.post("/console/stripe/", {**STRIPE, "stripe_price_id": "prod_wrong1"})
    assert response.status_code == 400
    assert SECRET not in response.text and HOOK_SECRET not in response.text


def test_blank_secret_fields_keep_the_stored_secrets(console, agency):
    services.agency_update_stripe(agency=agency, data=dict(STRIPE))
    response = console.post(
        "/console/stripe/",
        {
            **STRIPE,
            "stripe_product_id": "prod_gadget2",
            "stripe_secret_key": "",
            "stripe_webhook_secret": "",
        },
    )
    assert response.status_code == 302
    saved = Agency.objects.get(pk=agency.pk)
    assert saved.stripe_product_id == "prod_gadget2"
    assert (saved.stripe_secret_key, saved.stripe_webhook_secret) == (SECRET, HOOK_SECRET)


def test_a_new_secret_replaces_the_stored_one(console, agency):
    services.agency_update_stripe(agency=agency, data=dict(STRIPE))
    console.post(
        "/console/stripe/", {**STRIPE, "stripe_secret_key": "rk_test_restricted0001", "stripe_webhook_secret": ""}
    )
    saved = Agency.objects.get(pk=agency.pk)
    assert (saved.stripe_secret_key, saved.stripe_webhook_secret) == ("rk_test_restricted0001", HOOK_SECRET)


def test_secrets_are_stored_as_ciphertext(console, agency):
    console.post("/console/stripe/", STRIPE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stripe_secret_key, stripe_webhook_secret FROM agencies_agency WHERE id = %s",
            [agency.pk],
        )
        raw_secret, raw_hook = cursor.fetchone()
    assert SECRET not in raw_secret and "9876" not in raw_secret
    assert HOOK_SECRET not in raw_hook
    assert (crypto.decrypt(raw_secret), crypto.decrypt(raw_hook)) == (SECRET, HOOK_SECRET)


def test_error_reports_mask_the_posted_secrets(console, agency):
    response = console.post("/console/stripe/", STRIPE)
    posted = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert posted["stripe_secret_key"] != SECRET and posted["stripe_webhook_secret"] != HOOK_SECRET
    assert posted["stripe_product_id"] == "prod_widget1"


def test_webhook_url_names_the_console_host_and_the_slug(console, agency):
    response = console.get("/console/stripe/")
    assert 'data-testid="webhook-url">http://localhost/api/webhooks/stripe/acme<' in response.text


def test_webhook_url_reaches_the_stripe_webhook_endpoint(console, agency):
    response = console.get("/console/stripe/")
    shown = re.search(r'data-testid="webhook-url">([^<]+)<', response.text).group(1)
    match = resolve(urlsplit(shown).path)
    assert (match.url_name, match.kwargs) == ("stripe_webhook", {"slug": "acme"})


def test_webhook_url_is_https_in_production(console, agency, settings):
    settings.PORTAL_SCHEME = "https"
    response = console.get("/console/stripe/")
    assert 'data-testid="webhook-url">https://localhost/api/webhooks/stripe/acme<' in response.text


# --- Margin calculator -----------------------------------------------------------


def margin_row(response, price_text: str) -> dict:
    """The cost, profit and margin cells (and the row's text) of the package priced `price_text`."""
    for row in response.text.split("<tr")[1:]:
        if f"<td>{price_text}</td>" in row:
            cells = dict(re.findall(r'data-testid="(cost|profit|margin)">([^<]*)<', row))
            return {**cells, "text": row}
    raise AssertionError(f"no package priced {price_text}")


def test_margin_of_the_seed_example(console, agency):
    services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
    row = margin_row(console.get("/console/packages/"), "€40.00")
    assert (row["cost"], row["profit"], row["margin"]) == ("€7.00", "€33.00", "82.5%")
    assert "below cost" not in row["text"] and "converted" not in row["text"]


def test_package_priced_below_cost_is_flagged(console, agency):
    services.package_create(agency=agency, credits=100, price_cents=500, currency="EUR")
    row = margin_row(console.get("/console/packages/"), "€5.00")
    assert (row["cost"], row["profit"], row["margin"]) == ("€7.00", "-€2.00", "-40.0%")
    assert "Priced below cost" in row["text"]


def test_margin_follows_the_platform_minute_price(console, agency, settings):
    settings.PLATFORM_MINUTE_PRICE_CENTS = 10
    services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
    row = margin_row(console.get("/console/packages/"), "€40.00")
    assert (row["cost"], row["profit"], row["margin"]) == ("€10.00", "€30.00", "75.0%")


@pytest.mark.parametrize(
    "currency, price, cost, profit, margin, rate",
    [
        ("USD", "$40.00", "$8.75", "$31.25", "78.1%", "0.80"),
        ("GBP", "£40.00", "£5.60", "£34.40", "86.0%", "1.25"),
    ],
)
def test_package_in_another_currency_is_costed_at_the_configured_rate(
    console,
    agency,
    settings,
    currency,
    price,
    cost,
    profit,
    margin,
    rate,
):
    settings.EXCHANGE_RATES = {"EUR": Decimal("1"), "USD": Decimal("0.80"), "GBP": Decimal("1.25")}
    services.package_create(agency=agency, credits=100, price_cents=4000, currency=currency)
    row = margin_row(console.get("/console/packages/"), price)
    assert (row["cost"], row["profit"], row["margin"]) == (cost, profit, margin)
    assert f"Cost converted at 1 {currency} = {rate} EUR" in row["text"]


def test_package_in_a_currency_without_a_rate_says_so(console, agency, settings):
    settings.EXCHANGE_RATES = {"EUR": Decimal("1"), "USD": Decimal("0.80")}
    services.package_create(agency=agency, credits=100, price_cents=4000, currency="GBP")
    row = margin_row(console.get("/console/packages/"), "£40.00")
    assert "No exchange rate configured for GBP" in row["text"]
    assert "Cost converted" not in row["text"]


# --- Activation ----------------------------------------------------------------------


# A new agency needs one Stripe key (the portal sets up the rest); the values typed by hand under
# "Advanced" are asked for only once a key is there without the portal's set-up (the test below).
ALL_MISSING = [
    "Company name",
    "Portal slug",
    "Stripe secret key",
    "At least one credit package",
]


def test_activation_refuses_and_lists_everything_missing(console, agency):
    Agency.objects.filter(pk=agency.pk).update(company_name="", slug=None)
    response = console.post("/console/activation/", {"active": "1"}, follow=True)
    [message] = messages_of(response)
    assert message.startswith("The portal cannot go live yet.")
    for item in ALL_MISSING:
        assert item in message
    assert Agency.objects.get(pk=agency.pk).is_active is False


@pytest.mark.parametrize(
    "field, label",
    [
        ("stripe_publishable_key", "Stripe publishable key"),
        ("stripe_secret_key", "Stripe secret key"),
        ("stripe_product_id", "Stripe product ID"),
        ("stripe_price_id", "Stripe price ID"),
        ("stripe_webhook_secret", "Stripe webhook signing secret"),
        ("packages", "At least one credit package"),
    ],
)
def test_activation_refuses_when_one_item_is_missing(console, make_agency, field, label):
    agency = make_agency(active=True)
    services.agency_set_active(agency=agency, active=False)
    if field == "packages":
        CreditPackage.objects.filter(agency=agency).delete()
    else:
        Agency.objects.filter(pk=agency.pk).update(**{field: ""})
    seller_details_add(agency)
    console.force_login(agency.admin)
    response = console.post("/console/activation/", {"active": "1"}, follow=True)
    assert messages_of(response) == [f"The portal cannot go live yet. Missing: {label}."]
    assert Agency.objects.get(pk=agency.pk).is_active is False


def test_complete_settings_activate_the_portal(console, agency, stripe_account):
    # The five values typed by hand ("Advanced"), of a real account on the stand-in: activation asks Stripe.
    account = stripe_account()
    product = account.client.v1.products.create({"name": "Call credits"})
    price = account.client.v1.prices.create({"currency": "eur", "unit_amount": 4000, "product": product.id})
    endpoint = account.client.v1.webhook_endpoints.create(
        {"url": "http://localhost/api/webhooks/stripe/acme", "enabled_events": ["*"]}
    )
    console.post(
        "/console/stripe/",
        {
            **STRIPE,
            "stripe_secret_key": account.secret_key,
            "stripe_product_id": product.id,
            "stripe_price_id": price.id,
            "stripe_webhook_secret": endpoint.secret,
        },
    )
    console.post("/console/packages/", {"credits": "100", "price": "40.00", "currency": "EUR"})
    seller_details_add(agency)
    response = console.post("/console/activation/", {"active": "1", "confirm": "1"}, follow=True)
    assert "Your portal is live." in messages_of(response)
    assert 'data-testid="portal-status">Active<' in response.text
    assert Agency.objects.get(pk=agency.pk).is_active is True


def test_one_key_and_a_package_activate_the_portal(console, agency, stripe_account):
    console.post("/console/packages/", {"credits": "100", "price": "40.00", "currency": "EUR"})
    console.post("/console/stripe/", {"secret_key": stripe_account().secret_key})
    seller_details_add(agency)
    response = console.post("/console/activation/", {"active": "1", "confirm": "1"}, follow=True)
    assert "Your portal is live." in messages_of(response)
    assert Agency.objects.get(pk=agency.pk).is_active is True


def test_activation_is_refused_with_what_check_stripe_found(console, agency, stripe_account):
    console.post("/console/packages/", {"credits": "100", "price": "40.00", "currency": "EUR"})
    account = stripe_account()
    console.post("/console/stripe/", {"secret_key": account.secret_key})
    saved = Agency.objects.get(pk=agency.pk)
    account.client.v1.webhook_endpoints.delete(saved.stripe_webhook_endpoint_id)
    seller_details_add(agency)
    response = console.post("/console/activation/", {"active": "1", "confirm": "1"}, follow=True)
    message = messages_of(response)[-1]  # after the set-up's own report
    assert message.startswith("The portal cannot go live yet. Check Stripe: ")
    assert f"The webhook endpoint {saved.stripe_webhook_endpoint_id} was deleted in Stripe" in message
    assert Agency.objects.get(pk=agency.pk).is_active is False


def test_deactivation_switches_the_portal_off(console, make_agency):
    agency = make_agency(active=True)
    console.force_login(agency.admin)
    response = console.post("/console/activation/", {"active": "0", "confirm": "1"}, follow=True)
    assert messages_of(response) == ["Your portal is switched off."]
    assert Agency.objects.get(pk=agency.pk).is_active is False


# --- Users table -----------------------------------------------------------------------


def test_users_table_shows_email_organization_balance_and_joined(console, agency, make_client_user):
    user = make_client_user(agency, email="alice@clients.example", company_name="Alice Dental")
    credits_add(user.organization, 12500)
    User.objects.filter(pk=user.pk).update(date_joined="2025-03-04T10:00:00Z")
    response = console.get("/console/users/")
    row = next(r for r in response.text.split("<tr")[1:] if "alice@clients.example" in r)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells == ["alice@clients.example", "12,500", "2025-03-04"]
    # The organization links to the client's page.
    assert f'href="/console/ops/clients/{user.organization_id}/" data-testid="client-link">Alice Dental</a>' in row


def test_users_table_searches_by_email(console, agency, make_client_user):
    make_client_user(agency, email="alice@clients.example")
    make_client_user(agency, email="bob@clients.example")
    response = console.get("/console/users/", {"q": "ALICE"})
    assert "alice@clients.example" in response.text
    assert "bob@clients.example" not in response.text


def test_users_table_pages_by_fifty(console, agency, make_client_user):
    for n in range(60):
        make_client_user(agency, email=f"client{n:02d}@clients.example")
    first = console.get("/console/users/")
    second = console.get("/console/users/", {"page": 2})
    assert len(first.context["page"]) == 50 and len(second.context["page"]) == 10
    assert first.text.count("@clients.example</td>") == 50
    assert second.text.count("@clients.example</td>") == 10
    assert "Page 1 of 2" in first.text


def test_users_table_queries_do_not_grow_with_clients(console, agency, make_client_user, django_assert_num_queries):
    for _ in range(3):
        make_client_user(agency)
    with CaptureQueriesContext(connection) as few:
        assert console.get("/console/users/").status_code == 200
    for _ in range(57):
        make_client_user(agency)
    with django_assert_num_queries(len(few)):
        response = console.get("/console/users/")
    assert len(response.context["page"]) == 50


# --- Tenancy: every view serves only the admin's own agency ---------------------------


def url(name: str, package_id: int = 0) -> str:
    return reverse(name, args=[package_id]) if name == "console:package_delete" else reverse(name)


GET_VIEWS = [
    "console:dashboard",
    "console:branding",
    "console:domain",
    "stripe_setup:stripe",
    "console:packages",
    "console:users",
]
POST_VIEWS = [
    "console:branding",
    "console:domain",
    "console:domain_refresh",
    "stripe_setup:stripe",
    "console:packages",
    "console:package_delete",
    "stripe_setup:activation",
]
ALL_VIEWS = [("get", name) for name in GET_VIEWS] + [("post", name) for name in POST_VIEWS]


@pytest.fixture
def victim(make_agency, make_client_user, settings):
    """An agency with something to see on every page; its admin is not logged in."""
    settings.DNS_NAMESERVERS = ["127.0.0.1:9"]  # nothing answers: a refresh fails fast
    settings.DNS_TIMEOUT_SECONDS = 1
    agency = make_agency(slug="victim-co", company_name="Victim Company", active=True)
    services.agency_update_stripe(agency=agency, data={**STRIPE, "stripe_publishable_key": "pk_test_victimVICTIM"})
    services.agency_set_domain(agency=agency, domain="calls.victim.example")
    services.package_create(agency=agency, credits=777, price_cents=12345, currency="EUR")
    make_client_user(agency, email="alice@victim.example", company_name="Victim Client Org")
    agency.refresh_from_db()
    return agency


def victim_package(agency: Agency) -> CreditPackage:
    return CreditPackage.objects.get(agency=agency, credits=777)


VICTIM_MARKERS = [
    "Victim Company",
    "victim-co",
    "calls.victim.example",
    "pk_test_victimVICTIM",
    "…9876",
    "€123.45",
    "alice@victim.example",
    "Victim Client Org",
]


def victim_state(agency: Agency) -> dict:
    return {
        "agency": Agency.objects.values().get(pk=agency.pk),
        "packages": list(CreditPackage.objects.filter(agency=agency).values()),
        "organizations": list(Organization.objects.filter(agency=agency).values()),
    }


@pytest.fixture
def intruder(make_agency, make_client_user, console):
    agency = make_agency(slug="intruder", company_name="Intruder Inc")
    make_client_user(agency, email="own@intruder.example")
    console.force_login(agency.admin)
    return agency


@pytest.mark.parametrize("name", GET_VIEWS)
def test_other_agency_admin_sees_only_own_data(console, victim, intruder, name):
    response = console.get(url(name))
    assert response.status_code == 200
    for marker in VICTIM_MARKERS:
        assert marker not in response.text


@pytest.mark.parametrize(
    "name, data",
    [
        (
            "console:branding",
            {
                "company_name": "Intruder Inc",
                "logo_url": "",
                "primary_color": "#000000",
                "accent_color": "#FFFFFF",
                "slug": "intruder",
            },
        ),
        ("console:domain", {"custom_domain": ""}),
        ("console:domain_refresh", {}),
        ("stripe_setup:stripe", {**STRIPE, "stripe_publishable_key": "pk_test_intruder0000"}),
        ("console:packages", {"credits": "5", "price": "1.00", "currency": "EUR"}),
        ("stripe_setup:activation", {"active": "0"}),
    ],
)
def test_other_agency_admin_cannot_change_this_agency(console, victim, intruder, name, data):
    before = victim_state(victim)
    response = console.post(url(name), data)
    assert response.status_code == 302
    assert victim_state(victim) == before


def test_other_agency_admin_cannot_delete_this_agencys_package(console, victim, intruder):
    package = victim_package(victim)
    before = victim_state(victim)
    response = console.post(url("console:package_delete", package.pk))
    assert response.status_code == 404
    assert victim_state(victim) == before


def test_admin_deletes_own_package(console, intruder):
    package = services.package_create(agency=intruder, credits=10, price_cents=100, currency="EUR")
    assert console.post(url("console:package_delete", package.pk)).status_code == 302
    assert not CreditPackage.objects.filter(pk=package.pk).exists()


@pytest.mark.parametrize("method, name", ALL_VIEWS)
def test_console_user_without_an_agency_gets_404(console, victim, method, name):
    operator = User.objects.create_user("operator@example.com", "a-long-test-password-1")
    console.force_login(operator)
    package = victim_package(victim)
    before = victim_state(victim)
    response = getattr(console, method)(url(name, package.pk))
    assert response.status_code == 404
    assert victim_state(victim) == before


@pytest.mark.parametrize("method, name", ALL_VIEWS)
def test_anonymous_visitor_is_sent_to_login(console, victim, method, name):
    package = victim_package(victim)
    before = victim_state(victim)
    response = getattr(console, method)(url(name, package.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert victim_state(victim) == before


@pytest.mark.parametrize("method, name", ALL_VIEWS)
def test_portal_client_account_cannot_use_the_console(console, victim, method, name):
    client_user = User.objects.get(email="alice@victim.example", agency=victim)
    console.force_login(client_user)
    package = victim_package(victim)
    before = victim_state(victim)
    response = getattr(console, method)(url(name, package.pk), {"active": "0", "custom_domain": ""})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert victim_state(victim) == before

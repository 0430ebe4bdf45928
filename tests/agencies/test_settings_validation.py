"""Every rule of the agency's whitelabel settings, through the console views.

A bad value answers 400, shows its message next to the field it belongs to,
and leaves the database exactly as it was.
"""

import pytest
from django.utils.html import escape

from agencies import services
from agencies.models import Agency, CreditPackage

STRIPE = {
    "stripe_publishable_key": "pk_test_abcdefgh1234",
    "stripe_secret_key": "sk_test_abcdefgh1234",
    "stripe_product_id": "prod_test1234",
    "stripe_price_id": "price_test1234",
    "stripe_webhook_secret": "whsec_abcdefgh12345678",
}


@pytest.fixture
def agency(make_agency, console):
    agency = make_agency(slug="acme", company_name="Acme Calls")
    console.force_login(agency.admin)
    return agency


def snapshot(agency: Agency) -> dict:
    """The agency's row (secrets decrypted) and its packages, fresh from the database."""
    row = Agency.objects.values().get(pk=agency.pk)
    packages = list(CreditPackage.objects.filter(agency=agency).values("credits", "price_cents", "currency"))
    return {"row": row, "packages": packages}


def field_block(response, field: str) -> str:
    """The rendered markup of one form field: its label, input, help and errors."""
    for block in response.text.split('<div class="field')[1:]:
        if f'id="id_{field}"' in block:
            return block.split("</div>")[0]
    raise AssertionError(f"no field {field} on the page")


def assert_refused(response, field: str, message: str, before: dict, agency: Agency):
    assert response.status_code == 400
    assert escape(message) in field_block(response, field)
    assert snapshot(agency) == before


def branding(agency, **changes):
    return {
        "company_name": agency.company_name,
        "logo_url": "",
        "primary_color": "#123456",
        "accent_color": "#ABCDEF",
        "slug": agency.slug,
        **changes,
    }


# --- Branding: company name, logo, colours -------------------------------------


@pytest.mark.parametrize("name", ["", "   "])
def test_blank_company_name_is_refused(console, agency, name):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, company_name=name))
    assert_refused(response, "company_name", "This field is required.", before, agency)


def test_company_name_is_saved_trimmed(console, agency):
    response = console.post("/console/branding/", branding(agency, company_name="  Zephyr Voice  "))
    assert response.status_code == 302
    assert Agency.objects.get(pk=agency.pk).company_name == "Zephyr Voice"


@pytest.mark.parametrize("url", ["http://cdn.example.com/logo.png", "ftp://cdn.example.com/logo.png"])
def test_logo_url_that_is_not_https_is_refused(console, agency, url):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, logo_url=url))
    assert_refused(response, "logo_url", "The logo must be served over https://.", before, agency)


def test_logo_url_that_is_not_a_url_is_refused(console, agency):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, logo_url="not a url"))
    assert_refused(response, "logo_url", "Enter a valid URL.", before, agency)


def test_https_logo_url_is_saved(console, agency):
    url = "https://cdn.example.com/logo.png"
    assert console.post("/console/branding/", branding(agency, logo_url=url)).status_code == 302
    assert Agency.objects.get(pk=agency.pk).logo_url == url


def test_logo_url_without_a_scheme_is_taken_as_https(console, agency):
    assert console.post("/console/branding/", branding(agency, logo_url="cdn.example.com/logo.png")).status_code == 302
    assert Agency.objects.get(pk=agency.pk).logo_url == "https://cdn.example.com/logo.png"


def test_logo_url_is_optional(console, agency):
    Agency.objects.filter(pk=agency.pk).update(logo_url="https://cdn.example.com/old.png")
    assert console.post("/console/branding/", branding(agency, logo_url="")).status_code == 302
    assert Agency.objects.get(pk=agency.pk).logo_url == ""


@pytest.mark.parametrize("field", ["primary_color", "accent_color"])
@pytest.mark.parametrize("colour", ["blue", "123456", "#12345", "#1234567", "#GG0000", "#12 456"])
def test_colour_that_is_not_hex_rrggbb_is_refused(console, agency, field, colour):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, **{field: colour}))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="error"' in field_block(response, field)
    assert snapshot(agency) == before


def test_colour_error_shows_the_expected_format(console, agency):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, primary_color="blue"))
    assert_refused(response, "primary_color", "Enter a colour as #RRGGBB, for example #3B82F6.", before, agency)


def test_colours_are_saved(console, agency):
    response = console.post("/console/branding/", branding(agency, primary_color="#0a1b2c", accent_color="#FFEEDD"))
    assert response.status_code == 302
    saved = Agency.objects.get(pk=agency.pk)
    assert (saved.primary_color.upper(), saved.accent_color) == ("#0A1B2C", "#FFEEDD")


# --- Branding: portal slug ---------------------------------------------------------


def test_slug_is_required(console, agency):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug=""))
    assert_refused(response, "slug", "This field is required.", before, agency)


@pytest.mark.parametrize("slug", ["ab", "a" * 51])
def test_slug_shorter_than_3_or_longer_than_50_is_refused(console, agency, slug):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug=slug))
    assert response.status_code == 400
    assert "slug" in response.context["form"].errors
    assert 'class="error"' in field_block(response, "slug")
    assert snapshot(agency) == before


def test_short_slug_says_how_long_it_must_be(console, agency):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug="ab"))
    assert_refused(response, "slug", "The slug must be 3 to 50 characters long.", before, agency)


@pytest.mark.parametrize("slug", ["abc", "a" * 50, "a-1", "42-calls"])
def test_slug_of_3_to_50_allowed_characters_is_saved(console, agency, slug):
    assert console.post("/console/branding/", branding(agency, slug=slug)).status_code == 302
    assert Agency.objects.get(pk=agency.pk).slug == slug


@pytest.mark.parametrize("slug", ["Acme", "acme_calls", "acme.calls", "acme calls", "acmé"])
def test_slug_with_characters_other_than_lowercase_digits_hyphens_is_refused(console, agency, slug):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug=slug))
    assert_refused(response, "slug", "Use only lowercase letters, digits and hyphens.", before, agency)


def test_slug_with_leading_hyphen_is_refused(console, agency):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug="-acme"))
    assert_refused(response, "slug", "The slug cannot start or end with a hyphen.", before, agency)


def test_slug_with_trailing_hyphen_is_refused(console, agency):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug="acme-"))
    assert_refused(response, "slug", "The slug cannot start or end with a hyphen.", before, agency)


def test_slug_taken_by_another_agency_is_refused(console, agency, make_agency):
    make_agency(slug="taken")
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug="taken"))
    assert_refused(response, "slug", "This slug is already taken.", before, agency)


def test_keeping_own_slug_is_not_a_duplicate(console, agency):
    response = console.post("/console/branding/", branding(agency, company_name="Acme Two"))
    assert response.status_code == 302
    assert Agency.objects.get(pk=agency.pk).slug == "acme"


@pytest.mark.parametrize(
    "slug",
    ["www", "api", "admin", "app", "console", "platform", "static", "media", "mail", "portal"],
)
def test_reserved_slug_is_refused(console, agency, slug):
    before = snapshot(agency)
    response = console.post("/console/branding/", branding(agency, slug=slug))
    assert_refused(response, "slug", f"“{slug}” is reserved. Choose another slug.", before, agency)


# --- Custom domain ---------------------------------------------------------------


@pytest.fixture
def with_domain(agency):
    services.agency_set_domain(agency=agency, domain="calls.acme-example.com")
    return agency


@pytest.mark.parametrize(
    "domain",
    [
        "not a domain",
        "example",
        "-calls.example.com",
        "calls-.example.com",
        "calls_1.example.com",
        "calls..example.com",
        "1.2.3.4",
        "a" * 64 + ".example.com",
        "calls.example.com/path",
        "https://calls.example.com",
        "calls.example.com:8443",
    ],
)
def test_invalid_custom_domain_is_refused(console, with_domain, domain):
    before = snapshot(with_domain)
    response = console.post("/console/domain/", {"custom_domain": domain})
    assert response.status_code == 400
    assert "custom_domain" in response.context["form"].errors
    assert 'class="error"' in field_block(response, "custom_domain")
    assert snapshot(with_domain) == before


def test_invalid_custom_domain_says_what_a_hostname_looks_like(console, with_domain):
    before = snapshot(with_domain)
    response = console.post("/console/domain/", {"custom_domain": "calls..example.com"})
    assert_refused(response, "custom_domain", "Enter a valid hostname such as portal.example.com.", before, with_domain)


@pytest.mark.parametrize("domain", ["shop.localhost", "a.b.LOCALHOST.", "xn--bcher-kva.localhost"])
def test_custom_domain_under_the_base_domain_is_refused(console, with_domain, domain):
    before = snapshot(with_domain)
    response = console.post("/console/domain/", {"custom_domain": domain})
    message = "Use the portal slug for addresses under localhost; a custom domain must be your own."
    assert_refused(response, "custom_domain", message, before, with_domain)


@pytest.mark.parametrize("typed", ["calls.other.com", "Calls.Other.COM", "calls.other.com."])
def test_custom_domain_verified_by_another_agency_is_refused(console, with_domain, make_agency, typed):
    other = make_agency()
    services.agency_set_domain(agency=other, domain="calls.other.com")
    Agency.objects.filter(pk=other.pk).update(domain_status=Agency.DomainStatus.VERIFIED)
    before = snapshot(with_domain)
    response = console.post("/console/domain/", {"custom_domain": typed})
    assert_refused(response, "custom_domain", "This domain is already used by another portal.", before, with_domain)


def test_a_domain_another_agency_only_typed_in_can_still_be_claimed(console, agency, make_agency):
    # Typing a domain claims nothing: otherwise anyone could squat a competitor's domain.
    squatter = make_agency()
    services.agency_set_domain(agency=squatter, domain="calls.other.com")

    response = console.post("/console/domain/", {"custom_domain": "calls.other.com"})

    assert response.status_code == 302
    assert Agency.objects.get(pk=agency.pk).custom_domain == "calls.other.com"


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("Calls.Example.COM", "calls.example.com"),
        ("calls.example.com.", "calls.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("  Bücher.Example.  ", "xn--bcher-kva.example"),
    ],
)
def test_custom_domain_is_stored_normalized(console, agency, typed, stored):
    response = console.post("/console/domain/", {"custom_domain": typed})
    assert response.status_code == 302
    saved = Agency.objects.get(pk=agency.pk)
    assert saved.custom_domain == stored
    assert saved.domain_status == Agency.DomainStatus.PENDING
    assert saved.domain_token


def test_blank_custom_domain_removes_it(console, with_domain):
    assert console.post("/console/domain/", {"custom_domain": ""}).status_code == 302
    assert Agency.objects.get(pk=with_domain.pk).custom_domain is None


# --- Stripe ------------------------------------------------------------------------


@pytest.fixture
def with_stripe(agency):
    services.agency_update_stripe(agency=agency, data=dict(STRIPE))
    return agency


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("stripe_publishable_key", "sk_test_abcdefgh1234", "A publishable key starts with pk_test_ or pk_live_."),
        ("stripe_publishable_key", "pk_prod_abcdefgh1234", "A publishable key starts with pk_test_ or pk_live_."),
        ("stripe_publishable_key", "pk_test_", "A publishable key starts with pk_test_ or pk_live_."),
        (
            "stripe_secret_key",
            "pk_test_abcdefgh1234",
            "A secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_.",
        ),
        ("stripe_secret_key", "sk_abcdefgh1234", "A secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_."),
        (
            "stripe_secret_key",
            "whsec_abcdefgh1234",
            "A secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_.",
        ),
        ("stripe_product_id", "price_abcd1234", "A product ID starts with prod_."),
        ("stripe_product_id", "product_1234", "A product ID starts with prod_."),
        ("stripe_price_id", "prod_abcd1234", "A price ID starts with price_."),
        ("stripe_price_id", "plan_abcd1234", "A price ID starts with price_."),
        ("stripe_webhook_secret", "whsk_abcdefgh1234", "A webhook signing secret starts with whsec_."),
        ("stripe_webhook_secret", "sk_test_abcdefgh1234", "A webhook signing secret starts with whsec_."),
    ],
)
def test_malformed_stripe_value_is_refused(console, with_stripe, field, value, message):
    before = snapshot(with_stripe)
    response = console.post("/console/stripe/", {**STRIPE, field: value})
    assert_refused(response, field, message, before, with_stripe)


@pytest.mark.parametrize(
    "publishable, secret",
    [
        ("pk_test_abcdefgh1234", "sk_live_abcdefgh1234"),
        ("pk_live_abcdefgh1234", "sk_test_abcdefgh1234"),
        ("pk_live_abcdefgh1234", "rk_test_abcdefgh1234"),
    ],
)
def test_secret_key_in_another_mode_than_publishable_key_is_refused(console, with_stripe, publishable, secret):
    before = snapshot(with_stripe)
    response = console.post(
        "/console/stripe/",
        {
            **STRIPE,
            "stripe_publishable_key": publishable,
            "stripe_secret_key": secret,
        },
    )
    message = "The secret key and the publishable key must both be test keys or both live keys."
    assert_refused(response, "stripe_secret_key", message, before, with_stripe)


def test_live_publishable_key_with_stored_test_secret_is_refused(console, with_stripe):
    before = snapshot(with_stripe)
    response = console.post(
        "/console/stripe/",
        {
            **STRIPE,
            "stripe_publishable_key": "pk_live_abcdefgh1234",
            "stripe_secret_key": "",
        },
    )
    message = "The secret key and the publishable key must both be test keys or both live keys."
    assert_refused(response, "stripe_secret_key", message, before, with_stripe)


def test_malformed_publishable_key_gets_one_message_only(console, with_stripe):
    response = console.post("/console/stripe/", {**STRIPE, "stripe_publishable_key": "pk_foo_live_abcdefgh"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"stripe_publishable_key"}


@pytest.mark.parametrize(
    "publishable, secret",
    [
        ("pk_test_abcdefgh1234", "sk_test_newsecret5678"),
        ("pk_test_abcdefgh1234", "rk_test_restricted5678"),
        ("pk_live_abcdefgh1234", "sk_live_newsecret5678"),
        ("pk_live_abcdefgh1234", "rk_live_restricted5678"),
    ],
)
def test_well_formed_stripe_settings_are_saved(console, agency, publishable, secret):
    response = console.post(
        "/console/stripe/",
        {
            **STRIPE,
            "stripe_publishable_key": publishable,
            "stripe_secret_key": secret,
        },
    )
    assert response.status_code == 302
    saved = Agency.objects.get(pk=agency.pk)
    assert (saved.stripe_publishable_key, saved.stripe_secret_key) == (publishable, secret)
    assert (saved.stripe_product_id, saved.stripe_price_id) == ("prod_test1234", "price_test1234")
    assert saved.stripe_webhook_secret == "whsec_abcdefgh12345678"


# --- Credit packages -------------------------------------------------------------


@pytest.fixture
def with_package(agency):
    services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
    return agency


@pytest.mark.parametrize("credits", ["0", "-5", "1000001"])
def test_credits_outside_1_to_a_million_are_refused(console, with_package, credits):
    before = snapshot(with_package)
    response = console.post("/console/packages/", {"credits": credits, "price": "40.00", "currency": "EUR"})
    assert_refused(response, "credits", "A package holds between 1 and 1,000,000 credits.", before, with_package)


@pytest.mark.parametrize("credits", ["", "ten", "1.5"])
def test_credits_that_are_not_a_whole_number_are_refused(console, with_package, credits):
    before = snapshot(with_package)
    response = console.post("/console/packages/", {"credits": credits, "price": "40.00", "currency": "EUR"})
    assert response.status_code == 400
    assert 'class="error"' in field_block(response, "credits")
    assert snapshot(with_package) == before


@pytest.mark.parametrize("price", ["0", "0.00", "-1.00"])
def test_price_that_is_not_above_zero_is_refused(console, with_package, price):
    before = snapshot(with_package)
    response = console.post("/console/packages/", {"credits": "100", "price": price, "currency": "EUR"})
    assert_refused(response, "price", "The price must be more than zero.", before, with_package)


@pytest.mark.parametrize(
    "price, message",
    [
        ("forty", "Enter a number."),
        ("40.001", "Ensure that there are no more than 2 decimal places."),
        ("", "This field is required."),
    ],
)
def test_price_that_is_not_an_amount_is_refused(console, with_package, price, message):
    before = snapshot(with_package)
    response = console.post("/console/packages/", {"credits": "100", "price": price, "currency": "EUR"})
    assert_refused(response, "price", message, before, with_package)


@pytest.mark.parametrize("currency", ["JPY", "eur", ""])
def test_currency_other_than_eur_usd_gbp_is_refused(console, with_package, currency):
    before = snapshot(with_package)
    response = console.post("/console/packages/", {"credits": "100", "price": "40.00", "currency": currency})
    assert response.status_code == 400
    assert 'class="error"' in field_block(response, "currency")
    assert snapshot(with_package) == before


@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP"])
def test_package_is_saved_in_integer_cents(console, with_package, currency):
    response = console.post("/console/packages/", {"credits": "250", "price": "89.90", "currency": currency})
    assert response.status_code == 302
    added = CreditPackage.objects.get(agency=with_package, credits=250)
    assert (added.price_cents, added.currency) == (8990, currency)
    assert CreditPackage.objects.filter(agency=with_package).count() == 2


def test_slug_taken_between_check_and_save_is_reported_not_a_crash(make_agency):
    # The form's uniqueness check and the save are not one step: a competing
    # save in between must surface as "taken", and change nothing.
    first = make_agency(slug="contested")
    second = make_agency(slug="other-one")
    data = {
        "company_name": "Second",
        "logo_url": "",
        "primary_color": "#000000",
        "accent_color": "#FFFFFF",
        "slug": "contested",
    }

    with pytest.raises(services.SlugTaken):
        services.agency_update_branding(agency=second, data=data)

    assert Agency.objects.get(pk=second.pk).slug == "other-one"
    assert Agency.objects.get(pk=first.pk).slug == "contested"

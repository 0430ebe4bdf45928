"""The Stripe account object: what the code that talks to Stripe is given instead of an agency."""

from billing import accounts


def test_an_agency_account_carries_its_keys_but_never_shows_them(stripe_agency):
    agency = stripe_agency()
    account = accounts.agency_account(agency)
    assert (account.secret_key, account.webhook_secret) == (agency.stripe_secret_key, agency.stripe_webhook_secret)
    assert (account.agency_id, str(account), account.livemode, account.configured) == (
        agency.pk,
        f"agency {agency.pk}",
        False,
        True,
    )
    assert agency.stripe_secret_key not in repr(account) and agency.stripe_webhook_secret not in repr(account)


def test_the_platform_account_comes_from_settings_and_is_live_with_a_live_key(settings):
    settings.PLATFORM_STRIPE_SECRET_KEY = "sk_live_platform0000000000"
    settings.PLATFORM_STRIPE_WEBHOOK_SECRET = "whsec_platform"
    account = accounts.platform_account()
    assert (account.agency_id, str(account), account.livemode) == (None, "the platform", True)
    assert "sk_live_platform" not in repr(account) and "whsec_platform" not in repr(account)
    settings.PLATFORM_STRIPE_SECRET_KEY = ""
    assert not accounts.platform_account().configured


def test_each_account_sees_only_the_purchases_made_on_it(client, stripe_agency, make_client_user):
    from tests.billing.flows import checkout_start

    agency, other = stripe_agency(), stripe_agency()
    _, mine = checkout_start(client, agency, make_client_user(agency))
    _, theirs = checkout_start(client, other, make_client_user(other))
    assert list(accounts.purchases_on(accounts.agency_account(agency))) == [mine]
    assert list(accounts.purchases_on(accounts.agency_account(other))) == [theirs]
    assert not accounts.purchases_on(accounts.platform_account()).exists()  # client purchases are never the platform's

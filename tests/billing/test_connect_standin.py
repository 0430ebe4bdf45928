"""The stand-in's Connect behaves as Stripe's does where the portal relies on it."""

import pytest
import stripe

from tests.stripe_fixtures import CONNECT_CLIENT_ID, browser_get, oauth_consent


def _platform_client(platform):
    return stripe.StripeClient(
        platform.secret_key,
        client_id=CONNECT_CLIENT_ID,
        base_addresses={"api": platform.base_url, "connect": platform.base_url},
    )


def test_an_oauth_code_works_once(stripe_account):
    platform = stripe_account()
    client = _platform_client(platform)
    url = client.oauth.authorize_url({"state": "s1", "redirect_uri": "http://localhost/back", "scope": "read_write"})
    back = oauth_consent(url, business_name="Once BV")
    code = back.split("code=")[1].split("&")[0]
    token = client.oauth.token({"grant_type": "authorization_code", "code": code})
    assert token.stripe_user_id.startswith("acct_") and token.scope == "read_write"
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        client.oauth.token({"grant_type": "authorization_code", "code": code})
    # Connected: the platform's key now acts on the account.
    assert client.v1.accounts.retrieve(token.stripe_user_id).business_profile.name == "Once BV"


def test_another_platform_cannot_read_a_connected_account(stripe_account):
    platform, stranger = stripe_account(), stripe_account()
    created = platform.client.v1.accounts.create({"type": "standard"})
    with pytest.raises(stripe.PermissionError):
        stranger.client.v1.accounts.retrieve(created.id)


def test_deauthorize_ends_the_platforms_access(stripe_account):
    platform = stripe_account()
    client = _platform_client(platform)
    created = client.v1.accounts.create({"type": "standard"})
    client.oauth.deauthorize({"stripe_user_id": created.id})
    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve(created.id)


def test_an_account_link_is_single_use(stripe_account):
    platform = stripe_account()
    created = platform.client.v1.accounts.create({"type": "express"})
    link = platform.client.v1.account_links.create(
        {
            "account": created.id,
            "type": "account_onboarding",
            "refresh_url": "http://localhost/refresh",
            "return_url": "http://localhost/return",
        }
    )
    assert browser_get(link.url)[0] == 200
    assert browser_get(link.url)[2] == "http://localhost/refresh"


def test_application_fee_needs_a_connected_account(stripe_account):
    own = stripe_account()
    with pytest.raises(stripe.InvalidRequestError, match="application_fee_amount"):
        own.client.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "success_url": "http://localhost/ok",
                "line_items": [
                    {
                        "price_data": {"currency": "eur", "unit_amount": 100, "product_data": {"name": "x"}},
                        "quantity": 1,
                    }
                ],
                "payment_intent_data": {"application_fee_amount": 5},
            }
        )

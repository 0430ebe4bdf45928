"""A client buys a credit package in a real browser: the portal sends it to the Stripe
stand-in's hosted checkout page, Pay delivers the signed webhook to the live
server, and the client lands back on the portal with the credits. And the same
purchase made by a billing member the owner invited, who signs in with a code."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from agencies import services
from agencies.models import Role, User
from tests.browser.signing_in import log_in, totp
from tests.stripe_fixtures import stripe_account, stripe_base, stripe_standin  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(transactional_db, live_server, settings, make_agency, make_client_user, stripe_account):  # noqa: F811
    """An agency whose portal runs on the live server and whose Stripe account is on the stand-in."""
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = make_agency(active=True, slug="sunrise", company_name="Sunrise Calls")
    account = stripe_account()
    product = account.client.v1.products.create({"name": "Call credits"})
    price = account.client.v1.prices.create({"currency": "eur", "unit_amount": 4000, "product": product.id})
    endpoint = account.client.v1.webhook_endpoints.create(
        {
            "url": f"{live_server.url}/api/webhooks/stripe/{agency.slug}",
            "enabled_events": ["*"],
        }
    )
    services.agency_update_stripe(
        agency=agency,
        data={
            "stripe_publishable_key": "pk_test_abcdefgh1234",
            "stripe_secret_key": account.secret_key,
            "stripe_product_id": product.id,
            "stripe_price_id": price.id,
            "stripe_webhook_secret": endpoint.secret,
        },
    )
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    return agency, account, user


def test_client_buys_a_package_on_the_checkout_page_and_sees_the_credits(
    shop,
    live_server,
    stripe_base,  # noqa: F811
    new_page,
    screenshots,
    accessible,
):
    agency, account, user = shop
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"

    page = new_page()
    log_in(page, portal, user.email)
    expect(page.get_by_test_id("credits-balance")).to_have_text("0")
    accessible(page)

    page.get_by_role("navigation").get_by_role("link", name="Buy credits").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Buy credits")
    accessible(page)
    page.get_by_role("button", name="Buy 100 credits").click()

    # Stripe's hosted page (the stand-in), on another origin.
    expect(page).to_have_url(re.compile(rf"^{re.escape(stripe_base)}/c/pay/cs_test_"))
    expect(page.get_by_test_id("amount")).to_have_text("40.00 EUR")
    accessible(page)
    screenshots(page, "stripe-standin-checkout")
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(portal)}/billing/buy/success/\?session_id=cs_test_"))
    expect(page.get_by_test_id("credits-added")).to_have_text("+100 credits")
    accessible(page)
    expect(page.get_by_test_id("credits-balance")).to_have_text("100")
    expect(page.get_by_role("banner")).to_contain_text("Sunrise Calls")
    screenshots(page, "client-purchase-success")

    # The signed webhook reached the portal and was accepted before the customer came back.
    assert [d["status"] for d in account.deliveries("checkout.session.completed")] == [200]

    page.get_by_role("navigation").get_by_role("link", name="Billing").click()
    expect(page.get_by_test_id("credits-balance")).to_have_text("100")
    expect(page.get_by_test_id("history-row")).to_contain_text("Bought 100 credits (€40.00)")


INVITE_LINK = re.compile(r"https?://\S+/invitations/[A-Za-z0-9_-]+/")
MEMBER_PASSWORD = "a-billing-member-password-7"


def test_owner_invites_a_billing_member_who_signs_in_with_totp_and_buys_credits(
    shop,
    live_server,
    stripe_base,  # noqa: F811
    new_page,
    accessible,
):
    """The team story end to end: the client's owner invites a bookkeeper with the billing role; she
    accepts the emailed link, turns on an authenticator app, signs in again with password and code, and
    buys credits for the organization on the stand-in's Checkout page."""
    agency, account, owner = shop
    portal = f"http://{agency.slug}.localhost:{live_server.thread.port}"

    # The owner invites from the Invitations page.
    page = new_page()
    log_in(page, portal, owner.email)
    page.get_by_role("navigation").get_by_role("link", name="Invitations").click()
    page.get_by_label("Email address").fill("Bea@Moonlight.example")
    page.get_by_label("Role").select_option("billing")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to bea@moonlight.example.")).to_be_visible()
    (message,) = mail.outbox
    link = INVITE_LINK.search(str(message.body))
    assert link and link.group(0).startswith(f"{portal}/invitations/"), message.body

    # She accepts it in her own browser and is signed in as a billing member of the owner's organization.
    member = new_page()
    member.goto(link.group(0))
    member.get_by_label("Password", exact=True).fill(MEMBER_PASSWORD)
    member.get_by_label("Password (again)").fill(MEMBER_PASSWORD)
    member.get_by_role("button", name="Create account and join").click()
    expect(member.get_by_text("Welcome to Moonlight Bakery.")).to_be_visible()
    bea = User.objects.get(email="bea@moonlight.example")
    assert (bea.organization_id, bea.agency_id, bea.role) == (owner.organization_id, agency.pk, Role.BILLING)
    # Her menu is a billing member's: she buys, she does not manage members.
    menu = member.get_by_role("navigation")
    expect(menu.get_by_role("link", name="Buy credits")).to_be_visible()
    expect(menu.get_by_role("link", name="Members")).to_have_count(0)

    # She turns on an authenticator app.
    menu.get_by_role("link", name="Two-factor sign-in").click()
    member.get_by_role("link", name="Activate").click()
    expect(member).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    member.get_by_label("Password").fill(MEMBER_PASSWORD)
    member.get_by_role("button", name="Confirm").click()
    secret = member.get_by_label("Authenticator secret").input_value()
    member.get_by_label("Authenticator code").fill(totp(secret))
    member.get_by_role("button", name="Activate").click()
    expect(member).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/$"))

    # Signed out, the password alone does not let her in: the code does.
    member.get_by_role("button", name="Log out").click()
    log_in(member, portal, "bea@moonlight.example", MEMBER_PASSWORD)
    expect(member).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(member.get_by_role("button", name="Log out")).to_have_count(0)
    member.get_by_label("Code").fill("000000" if totp(secret, 1) != "000000" else "111111")
    member.get_by_role("button", name="Sign In").click()
    expect(member).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))  # a wrong code keeps her out
    member.get_by_label("Code").fill(totp(secret, 1))  # the next period's: each code signs in once
    member.get_by_role("button", name="Sign In").click()
    expect(member.get_by_role("button", name="Log out")).to_be_attached()
    expect(member.get_by_test_id("credits-balance")).to_have_text("0")
    accessible(member)

    # She buys credits for the organization on Stripe's hosted page (the stand-in).
    member.get_by_role("navigation").get_by_role("link", name="Buy credits").click()
    member.get_by_role("button", name="Buy 100 credits").click()
    expect(member).to_have_url(re.compile(rf"^{re.escape(stripe_base)}/c/pay/cs_test_"))
    member.get_by_role("button", name="Pay", exact=True).click()
    expect(member).to_have_url(re.compile(rf"^{re.escape(portal)}/billing/buy/success/\?session_id=cs_test_"))
    expect(member.get_by_test_id("credits-added")).to_have_text("+100 credits")
    expect(member.get_by_test_id("credits-balance")).to_have_text("100")
    assert [d["status"] for d in account.deliveries("checkout.session.completed")] == [200]

    # The organization's balance is one: the owner sees the same 100 credits.
    page.goto(f"{portal}/")
    expect(page.get_by_test_id("credits-balance")).to_have_text("100")

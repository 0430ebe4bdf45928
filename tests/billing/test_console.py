"""The agency console's billing pages: manual allocation and purchases, own agency only."""

import re
import uuid

import pytest

from agencies.models import User
from billing import ledger
from billing.models import LedgerEntry
from tests.billing.flows import bought_and_paid, deliver_last
from tests.conftest import PASSWORD, host


def _allocate(console, organization, **data):
    form = {
        "action": "allocate",
        "credits": "250",
        "description": "Invoice #INV-2024-001",
        "token": uuid.uuid4().hex,
        **data,
    }
    return console.post(f"/console/billing/clients/{organization.pk}/allocate/", form)


def test_users_table_links_each_client_to_allocate(admin_console):
    console, _agency, organization = admin_console
    response = console.get("/console/users/")
    assert f'href="/console/billing/clients/{organization.pk}/allocate/"' in response.text


def test_allocation_adds_credits_recorded_with_the_admin_and_shown_in_the_client_history(
    admin_console, client, make_client_user
):
    console, agency, organization = admin_console
    response = _allocate(console, organization)
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.credits_balance == 250
    entry = LedgerEntry.objects.get(organization=organization)
    assert (entry.kind, entry.amount, entry.actor, entry.description) == (
        "allocation",
        250,
        agency.admin,
        "Invoice #INV-2024-001",
    )
    page = console.get(response["Location"])
    assert "Added 250 credits to Acme Bakery." in page.text and agency.admin.email in page.text

    client.force_login(organization.members.get())
    history = client.get("/billing/", HTTP_HOST=host(agency))
    assert "Invoice #INV-2024-001" in history.text and "+250" in history.text


def test_deduction_with_a_reason(admin_console):
    console, _agency, organization = admin_console
    _allocate(console, organization, credits="100")
    response = _allocate(
        console, organization, action="deduct", credits="30", description="Unused trial minutes", confirm="1"
    )
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.credits_balance == 70
    entry = LedgerEntry.objects.filter(organization=organization).first()
    assert (entry.kind, entry.amount, entry.balance_after, entry.description) == (
        "deduction",
        -30,
        70,
        "Unused trial minutes",
    )


def test_a_deduction_asks_first_naming_the_new_balance(admin_console):
    # Defect 9: credits were deducted in one click.
    console, _agency, organization = admin_console
    _allocate(console, organization, credits="100")
    token = uuid.uuid4().hex
    data = {"action": "deduct", "credits": "30", "description": "Unused trial minutes", "token": token}
    response = _allocate(console, organization, **data)
    assert response.status_code == 200
    assert "balance goes from 100 to 70 credits" in response.text
    assert f'name="token" value="{token}"' in response.text and 'name="confirm" value="1"' in response.text
    organization.refresh_from_db()
    assert organization.credits_balance == 100
    assert _allocate(console, organization, **data, confirm="1").status_code == 302
    organization.refresh_from_db()
    assert organization.credits_balance == 70


@pytest.mark.parametrize(
    "data, message",
    [
        ({"credits": "0"}, "Enter at least 1 credit."),
        ({"credits": "-5"}, "Enter at least 1 credit."),
        ({"credits": "1000001"}, "Enter at most 1,000,000 credits at a time."),
        ({"credits": "1.5"}, "Enter a whole number of credits."),
        ({"credits": "ten"}, "Enter a whole number of credits."),
        ({"description": ""}, "Enter a description: it is shown in the client&#x27;s history."),
        ({"description": "   "}, "Enter a description: it is shown in the client&#x27;s history."),
        ({"action": "gift"}, "Select a valid choice."),
        ({"token": "reused"}, "This form has expired"),
    ],
)
def test_bad_allocation_input_gets_a_clear_message_and_changes_nothing(admin_console, data, message):
    console, _agency, organization = admin_console
    response = _allocate(console, organization, **data)
    assert response.status_code == 400
    assert message in response.text
    organization.refresh_from_db()
    assert organization.credits_balance == 0 and not LedgerEntry.objects.exists()


def test_the_largest_allocation_is_accepted(admin_console):
    console, _agency, organization = admin_console
    assert _allocate(console, organization, credits="1000000").status_code == 302
    organization.refresh_from_db()
    assert organization.credits_balance == 1_000_000


def test_deducting_more_than_the_balance_is_refused(admin_console):
    console, _agency, organization = admin_console
    _allocate(console, organization, credits="20")
    response = _allocate(console, organization, action="deduct", credits="21", description="Too much")
    assert response.status_code == 400 and "Acme Bakery has 20 credits" in response.text
    organization.refresh_from_db()
    assert organization.credits_balance == 20 and LedgerEntry.objects.count() == 1


def test_submitting_the_same_form_twice_allocates_once(admin_console):
    console, _agency, organization = admin_console
    token = uuid.uuid4().hex
    _allocate(console, organization, token=token)
    response = _allocate(console, organization, token=token)
    assert "already submitted" in console.get(response["Location"]).text
    organization.refresh_from_db()
    assert organization.credits_balance == 250 and LedgerEntry.objects.count() == 1


def test_allocate_form_carries_a_fresh_token(admin_console):
    console, _agency, organization = admin_console
    first = console.get(f"/console/billing/clients/{organization.pk}/allocate/")
    second = console.get(f"/console/billing/clients/{organization.pk}/allocate/")
    tokens = [re.search(r'name="token" value="([0-9a-f]{32})"', r.text).group(1) for r in (first, second)]
    assert tokens[0] != tokens[1]


def test_another_agencys_client_is_404(admin_console, make_agency, make_client_user):
    console, _agency, _organization = admin_console
    stranger = make_client_user(make_agency(active=True)).organization
    assert console.get(f"/console/billing/clients/{stranger.pk}/allocate/").status_code == 404
    assert _allocate(console, stranger).status_code == 404
    stranger.refresh_from_db()
    assert stranger.credits_balance == 0


def test_billing_console_pages_need_an_agency_admin(console, make_agency, make_client_user):
    organization = make_client_user(make_agency(active=True)).organization
    for path in ["/console/billing/purchases/", f"/console/billing/clients/{organization.pk}/allocate/"]:
        assert console.get(path).status_code == 302  # anonymous: to the login page
    console.force_login(User.objects.create_user("nobody@example.com", PASSWORD))
    for path in ["/console/billing/purchases/", f"/console/billing/clients/{organization.pk}/allocate/"]:
        assert console.get(path).status_code == 404


def test_purchases_page_lists_the_agency_purchases_only(console, client, stripe_agency, make_client_user):
    agency, other = stripe_agency(), stripe_agency()
    buyer = make_client_user(agency, company_name="Acme Bakery", email="anna@acme.example")
    paid = bought_and_paid(client, agency, buyer)
    deliver_last(client, agency, "checkout.session.completed")
    bought_and_paid(client, other, make_client_user(other, company_name="Rival Corp"))

    console.force_login(agency.admin)
    response = console.get("/console/billing/purchases/")
    assert response.status_code == 200
    rows = response.text.split('data-testid="purchase-row"')[1:]
    assert len(rows) == 1
    for expected in ["Acme Bakery", "anna@acme.example", "100 credits", "€40.00", "Paid"]:
        assert expected in rows[0]
    assert "Rival Corp" not in response.text

    detail = console.get(f"/console/billing/purchases/{paid.pk}/")
    assert detail.status_code == 200 and paid.stripe_session_id in detail.text
    other_purchase = other.purchases.get()
    assert console.get(f"/console/billing/purchases/{other_purchase.pk}/").status_code == 404


def test_a_mismatch_shows_its_reason_to_the_agency(console, client, stripe_agency, make_client_user):
    agency = stripe_agency()
    purchase = bought_and_paid(client, agency, make_client_user(agency), amount_total=1000)
    deliver_last(client, agency, "checkout.session.completed")
    console.force_login(agency.admin)
    assert "Not credited: mismatch" in console.get("/console/billing/purchases/").text
    detail = console.get(f"/console/billing/purchases/{purchase.pk}/")
    assert "Stripe charged €10.00, the package costs €40.00." in detail.text


def test_a_purchase_detail_shows_its_ledger_entries(console, client, stripe_agency, make_client_user):
    agency = stripe_agency()
    purchase = bought_and_paid(client, agency, make_client_user(agency))
    deliver_last(client, agency, "checkout.session.completed")
    purchase.refresh_from_db()
    agency.stripe.refund(purchase.stripe_payment_intent_id, amount=2000)
    deliver_last(client, agency, "charge.refunded")
    console.force_login(agency.admin)
    detail = console.get(f"/console/billing/purchases/{purchase.pk}/")
    assert "Partially refunded" in detail.text and "50 credits removed" in detail.text
    assert ledger.purchases_check() == []

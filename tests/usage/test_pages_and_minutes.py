"""Pages (client usage, agency users table and dashboard) and the operator adding agency minutes."""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import Agency, User
from billing.models import LedgerEntry
from tests.conftest import NOON, credits_add, host
from tests.usage.conftest import record, snapshot
from usage.ingest import usage_ingest
from usage.reservations import call_authorize


def now_iso(minutes_ago=1):
    return (timezone.now() - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def shown(response, name) -> str:
    match = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', response.text)
    assert match, f"no {name} on the page"
    return match.group(1).strip()


# --- The client's usage page ------------------------------------------------------------


@pytest.mark.now(NOON)  # counts this calendar month's calls
def test_a_client_sees_free_reserved_total_and_its_recent_calls(agency, org, make_client_user):
    sibling = make_client_user(agency, company_name="Sibling").organization
    call_authorize(organization=org, max_minutes=30)
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, id="call-mine", duration_sec=135, created_at=now_iso()),
            record(org, id="call-huge", duration_sec=200 * 60, created_at=now_iso()),
            record(sibling, id="call-sibling", created_at=now_iso()),
        ],
    )
    browser = Client(HTTP_HOST=host(agency))
    browser.force_login(org.owner)

    page = browser.get("/usage/")

    assert page.status_code == 200
    # 100 - 3 - 200 = -103 total; 30 still reserved.
    assert (shown(page, "total"), shown(page, "reserved"), shown(page, "free")) == ("-103", "30", "-133")
    assert shown(page, "monthly-minutes") == "203"
    assert "call-mine" in page.text and "call-huge" in page.text and "overdraft" in page.text
    assert "call-sibling" not in page.text
    assert "cannot cover a new call" in page.text


@pytest.mark.parametrize("path", ["/", "/usage/", "/settings/api-keys/", "/billing/"])
def test_every_client_page_links_to_usage_and_api_keys(agency, org, path):
    browser = Client(HTTP_HOST=host(agency))
    browser.force_login(org.owner)
    page = browser.get(path)
    assert page.status_code == 200
    assert 'href="/usage/"' in page.text and 'href="/settings/api-keys/"' in page.text


def test_the_usage_page_needs_a_client_login(agency):
    assert Client(HTTP_HOST=host(agency)).get("/usage/").status_code == 302


# --- The agency's users table and dashboard -----------------------------------------------


@pytest.fixture
def console_admin(agency):
    browser = Client(HTTP_HOST="localhost")
    browser.force_login(agency.admin)
    return browser


def test_the_users_table_shows_each_clients_reserved_and_free_credits(console_admin, agency, org, make_client_user):
    second = make_client_user(agency, email="second@example.com", company_name="Second").organization
    credits_add(second, 7)
    call_authorize(organization=org, max_minutes=40)

    page = console_admin.get("/console/users/")

    assert page.status_code == 200
    assert "<th>Reserved</th><th>Free</th>" in page.text
    rows = {
        row[0]: row
        for row in re.findall(
            r"<tr><td>([^<]+)</td>.*?data-testid=\"reserved\">([^<]*)</td><td data-testid=\"free\">([^<]*)</td>",
            page.text,
        )
    }
    assert rows[org.owner.email][1:] == ("40", "60")
    assert rows["second@example.com"][1:] == ("0", "7")


def test_the_users_table_is_computed_in_the_view_and_its_template_queries_nothing(
    console_admin, agency, org, django_assert_num_queries
):
    from django.template.loader import render_to_string
    from django.test.utils import ContextList

    call_authorize(organization=org, max_minutes=40)
    response = console_admin.get("/console/users/")
    context = response.context[0] if isinstance(response.context, ContextList) else response.context
    with django_assert_num_queries(0):  # balances and reservations came with the view's context
        page = render_to_string("console/users.html", context.flatten())
    assert re.search(r'data-testid="reserved">40</td><td data-testid="free">60</td>', page)


def test_the_users_table_makes_the_same_queries_for_5_clients_as_for_25(console_admin, agency, make_client_user):
    def queries_for_page():
        with CaptureQueriesContext(connection) as captured:
            assert console_admin.get("/console/users/").status_code == 200
        return len(captured)

    def add_client_with_a_reservation():
        organization = make_client_user(agency).organization
        credits_add(organization, 5)
        call_authorize(organization=organization, max_minutes=2)

    for _ in range(5):
        add_client_with_a_reservation()
    few = queries_for_page()
    for _ in range(20):
        add_client_with_a_reservation()
    assert queries_for_page() == few


@pytest.mark.now(NOON)  # counts this calendar month's calls
def test_the_dashboard_shows_the_agencys_minutes_and_this_months_use(console_admin, agency, org):
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, duration_sec=135, created_at=now_iso()),
            record(org, duration_sec=60 * 45, created_at="2020-01-01T00:00:00Z"),  # long ago: not this month
        ],
    )
    page = console_admin.get("/console/")
    assert page.status_code == 200
    assert shown(page, "minutes-balance") == f"{1000 - 3 - 45:,}"
    assert shown(page, "minutes-this-month") == "3"


# --- The platform operator adds minutes ----------------------------------------------------


@pytest.fixture
def operator(db):
    user = User.objects.create_superuser("operator@example.com", "operator-pass-123")
    browser = Client(HTTP_HOST="localhost")
    browser.force_login(user)
    browser.user = user
    return browser


def minutes_action(browser, agency, **fields):
    return browser.post(
        "/admin/agencies/agency/",
        {
            "action": "minutes_adjust",
            "_selected_action": [agency.pk],
            **fields,
        },
    )


def test_the_operator_adds_minutes_in_the_admin_with_a_description(operator, agency):
    form = minutes_action(operator, agency)
    assert form.status_code == 200 and "Add or remove call minutes" in form.text
    token = re.search(r'name="token" value="([0-9a-f]+)"', form.text).group(1)

    done = minutes_action(operator, agency, apply="1", minutes="2500", description="Invoice PLT-2025-014", token=token)
    again = minutes_action(
        operator, agency, apply="1", minutes="2500", description="Invoice PLT-2025-014", token=token
    )  # the same form submitted twice

    assert done.status_code == 302 and again.status_code == 302
    agency.refresh_from_db()
    assert agency.minutes_balance == 3500
    [entry] = LedgerEntry.objects.filter(agency=agency, reference__startswith="minutes:")
    assert (entry.amount, entry.kind, entry.description, entry.actor) == (
        2500,
        "allocation",
        "Invoice PLT-2025-014",
        operator.user,
    )


def test_the_operator_takes_minutes_back_but_never_below_zero(operator, agency):
    minutes_action(operator, agency, apply="1", minutes="-400", description="Correction", token="t1")
    agency.refresh_from_db()
    assert agency.minutes_balance == 600
    assert LedgerEntry.objects.get(reference=f"minutes:t1:{agency.pk}").kind == "adjustment"

    before = snapshot()
    response = minutes_action(operator, agency, apply="1", minutes="-601", description="Too much", token="t2")
    assert response.status_code == 302
    assert snapshot() == before


@pytest.mark.parametrize(
    "fields",
    [
        {"minutes": "0", "description": "Nothing"},
        {"minutes": "12.5", "description": "Half"},
        {"minutes": "100", "description": ""},
        {"minutes": "99999999", "description": "Too many"},
    ],
)
def test_the_minutes_form_refuses_bad_input_and_changes_nothing(operator, agency, fields):
    before = snapshot()
    response = minutes_action(operator, agency, apply="1", token="t3", **fields)
    assert response.status_code == 200 and "errorlist" in response.text
    assert snapshot() == before


def test_minutes_cannot_be_typed_into_the_agency_form(operator, agency):
    page = operator.get(f"/admin/agencies/agency/{agency.pk}/change/")
    assert page.status_code == 200
    assert 'name="minutes_balance"' not in page.text


def test_the_command_adds_minutes_by_slug_or_id_once_per_reference(agency, capsys):
    call_command("agency_add_minutes", agency.slug, "250", description="Invoice 7", reference="inv-7")
    call_command("agency_add_minutes", str(agency.pk), "250", description="Invoice 7", reference="inv-7")
    call_command("agency_add_minutes", agency.slug, "-50", description="Correction")

    agency.refresh_from_db()
    assert agency.minutes_balance == 1000 + 250 - 50
    assert "Already recorded" in capsys.readouterr().out
    assert LedgerEntry.objects.get(agency=agency, reference="minutes:inv-7").description == "Invoice 7"


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-agency", "10"], "No agency"),
        (["{slug}", "0"], "other than zero"),
        (["{slug}", "-5000"], "has only 1000 minutes"),
    ],
)
def test_the_command_refuses_bad_input_and_changes_nothing(agency, args, message):
    before = snapshot()
    with pytest.raises(CommandError, match=message):
        call_command("agency_add_minutes", *[a.format(slug=agency.slug) for a in args], description="x")
    assert snapshot() == before
    assert Agency.objects.get(pk=agency.pk).minutes_balance == 1000

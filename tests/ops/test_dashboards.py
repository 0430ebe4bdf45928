"""The client's usage report (range table, CSV, 30-day chart) and the agency's business dashboard,
with query counts that stay the same as clients and calls grow."""

import csv
import io
import itertools
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape as html_escape

from agencies import services
from billing import ledger
from billing.models import LedgerEntry, Purchase
from ops import alerts, charts, dashboards
from tests.conftest import NOON, credits_add, host
from tests.ops.conftest import call
from usage.ingest import usage_ingest

_refs = itertools.count(1)
SVG = "http://www.w3.org/2000/svg"

# Calls and sales are placed "n days ago" and read back by UTC day: the calendar must hold still.
pytestmark = pytest.mark.now(NOON)


@pytest.fixture
def portal(client_user, agency):
    client = Client(HTTP_HOST=host(agency))
    client.force_login(client_user)
    return client


@pytest.fixture
def console(agency):
    client = Client(HTTP_HOST="localhost")
    client.force_login(agency.admin)
    return client


def calls(org, *specs):
    """Ingest calls given as (minutes, days_ago)."""
    outcomes = usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=m, days_ago=d) for m, d in specs])
    assert {o.status for o in outcomes} == {"applied"}


def sold(org, *, credits, cents, currency="EUR", refunded_cents=0, days_ago=0):
    """A paid credit purchase with its ledger entries, as Checkout would leave it."""
    package = services.package_create(agency=org.agency, credits=credits, price_cents=cents, currency=currency)
    n = next(_refs)
    purchase = Purchase.objects.create(
        reference=f"ref{n}",
        agency_id=org.agency_id,
        organization=org,
        package=package,
        credits=credits,
        amount_cents=cents,
        currency=currency,
        livemode=False,
        stripe_session_id=f"cs_test_{n}",
        status="paid",
        fulfilled_at=timezone.now() - timedelta(days=days_ago),
    )
    ledger.entry_post(
        organization=org, amount=credits, kind=LedgerEntry.Kind.PURCHASE, reference=f"purchase:{n}", purchase=purchase
    )
    if refunded_cents:
        removed = credits * refunded_cents // cents
        ledger.entry_post(
            organization=org,
            amount=-removed,
            kind=LedgerEntry.Kind.REFUND,
            reference=f"purchase:{n}:refund",
            purchase=purchase,
        )
        Purchase.objects.filter(pk=purchase.pk).update(
            refunded_cents=refunded_cents, credits_refunded=removed, status="partially_refunded"
        )
    return purchase


# --- The client's usage report ------------------------------------------------------


def test_the_report_lists_the_range_with_totals_and_charts_the_last_30_days(portal, org, agency, make_client_user):
    calls(org, (2, 0), (3, 1), (4, 10), (7, 40))
    stranger = make_client_user(agency).organization
    credits_add(stranger, 50)
    calls(stranger, (9, 0))
    today = timezone.now().date()

    page = portal.get("/usage/report/", {"start": str(today - timedelta(days=5)), "end": str(today)})

    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="range-row"') == 2
    assert '<p class="figure" data-testid="range-minutes">5</p>' in html
    assert "<svg" not in html  # the page draws no chart: it links its image
    report_chart = _report_chart(org, agency)
    assert f'src="/usage/report/chart-desktop.svg?v={report_chart.version("desktop")}"' in html
    assert f'srcset="/usage/report/chart-phone.svg?v={report_chart.version("phone")}"' in html
    table = html.split('data-testid="chart-table"', 1)[1]
    assert table.count("<tr><td>") == 30  # the fallback table: one row a day
    assert f"<tr><td>{today - timedelta(days=10):%Y-%m-%d}</td><td>4</td></tr>" in table
    assert f"{today - timedelta(days=40):%Y-%m-%d}" not in table


def _report_chart(org, agency) -> charts.Chart:
    return charts.Chart(
        series=dashboards.last_days_minutes(organization=org),
        color=agency.primary_color,
        label="Minutes used per day, last 30 days",
        url_name="ops_portal:usage_report_chart",
    )


def svg_bars(svg: bytes, *, color: str | None = None) -> list[float]:
    """The heights of the chart's bars, from the SVG document (parsed, not searched as text)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{{{SVG}}}svg"
    rects = root.findall(f".//{{{SVG}}}g[@class='series serie-0 color-0']//{{{SVG}}}rect")
    if color is not None:
        assert color in svg.decode()
    assert root.find(f"{{{SVG}}}script") is None and b"<script" not in svg
    return [float(rect.get("height", "0")) for rect in rects]


def test_the_report_chart_is_an_svg_image_of_the_last_30_days(portal, org, agency):
    calls(org, (2, 0), (3, 1), (4, 10), (7, 40))
    version = _report_chart(org, agency).version("desktop")

    response = portal.get("/usage/report/chart-desktop.svg", {"v": version})

    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["ETag"] == f'"{version}"'
    assert response["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    heights = svg_bars(response.content, color=agency.primary_color)
    assert len(heights) == 30 and sum(h > 0 for h in heights) == 3  # 40 days ago is out of the chart
    root = ET.fromstring(response.content)
    assert root.findtext(f"{{{SVG}}}title") == "Minutes used per day, last 30 days"
    phone = portal.get("/usage/report/chart-phone.svg")
    assert phone.status_code == 200 and 'class="pygal-chart chart-phone"' in phone.text
    assert len(svg_bars(phone.content)) == 30


def test_the_chart_answers_304_to_its_etag_and_is_cached_for_good_only_by_version(portal, org, agency):
    calls(org, (2, 0))
    old = _report_chart(org, agency).version("desktop")

    assert portal.get("/usage/report/chart-desktop.svg")["Cache-Control"] == "private, no-cache"
    again = portal.get("/usage/report/chart-desktop.svg", {"v": old}, HTTP_IF_NONE_MATCH=f'"{old}"')
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == f'"{old}"'
    assert again["Cache-Control"] == "private, max-age=31536000, immutable"

    calls(org, (3, 0))  # new data: a new version, the old URL is no longer cached for good
    new = _report_chart(org, agency).version("desktop")
    assert new != old
    stale = portal.get("/usage/report/chart-desktop.svg", {"v": old}, HTTP_IF_NONE_MATCH=f'"{old}"')
    assert stale.status_code == 200 and stale["ETag"] == f'"{new}"'
    assert stale["Cache-Control"] == "private, no-cache"
    assert new in portal.get("/usage/report/").text


def test_chart_sizes_other_than_desktop_and_phone_are_404(portal, console):
    assert portal.get("/usage/report/chart-tablet.svg").status_code == 404
    assert console.get("/console/ops/business/chart-huge.svg").status_code == 404


def test_the_charts_ask_anonymous_visitors_to_log_in_like_the_pages(agency, org):
    portal, console = Client(HTTP_HOST=host(agency)), Client(HTTP_HOST="localhost")
    for client, page, chart in [
        (portal, "/usage/report/", "/usage/report/chart-desktop.svg"),
        (console, "/console/ops/business/", "/console/ops/business/chart-desktop.svg"),
        (console, f"/console/ops/clients/{org.pk}/", f"/console/ops/clients/{org.pk}/chart-desktop.svg"),
    ]:
        expected, got = client.get(page), client.get(chart)
        assert got.status_code == expected.status_code == 302
        assert got["Location"].split("?")[0] == expected["Location"].split("?")[0]


def test_the_csv_holds_every_call_of_the_range_oldest_first_and_defuses_formulas(portal, org):
    usage_ingest(
        agency_id=org.agency_id,
        records=[
            call(org, minutes=2, days_ago=1, id="first"),
            call(org, minutes=1, id='=HYPERLINK("x")', number_id="+31"),
        ],
    )
    today = timezone.now().date()
    response = portal.get("/usage/report.csv", {"start": str(today - timedelta(days=2)), "end": str(today)})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["call_id", "created_at_utc", "number_id", "direction", "duration_sec", "credits", "overdraft"]
    assert [r[0] for r in rows[1:]] == ["first", '\'=HYPERLINK("x")']
    assert rows[2][2] == "'+31" and rows[1][4:6] == ["120", "2"]


@pytest.mark.parametrize(
    "query, message",
    [
        ({"start": "2026-13-01", "end": "2026-12-01"}, "Enter dates as YYYY-MM-DD."),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "The start must not be after the end."),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "Choose at most 366 days."),
    ],
)
def test_bad_ranges_get_a_reason(portal, query, message):
    page = portal.get("/usage/report/", query)
    assert page.status_code == 400 and message in page.text
    export = portal.get("/usage/report.csv", query)
    assert export.status_code == 400 and message in export.text


def test_the_report_query_count_does_not_grow_with_calls(portal, org, django_assert_num_queries):
    calls(org, (1, 0), (1, 3))
    portal.get("/usage/report/")  # warms the host -> agency cache, as any earlier request does
    with django_assert_num_queries(REPORT_QUERIES):
        assert portal.get("/usage/report/").status_code == 200
    credits_add(org, 1000)
    calls(org, *[(1, day % 29) for day in range(120)])
    with django_assert_num_queries(REPORT_QUERIES):
        assert portal.get("/usage/report/").status_code == 200


# session, user, organization, totals (from the rollups, also the pager's count), page, daily series
REPORT_QUERIES = 6


# --- The agency's business dashboard ------------------------------------------------


def test_the_dashboard_adds_up_usage_sales_cost_margin_and_low_clients(
    console, agency, org, make_client_user, settings
):
    settings.PLATFORM_MINUTE_PRICE_CENTS = 7
    settings.EXCHANGE_RATES = {"EUR": Decimal(1), "USD": Decimal("0.5")}
    low = make_client_user(agency, company_name="Low Co").organization
    credits_add(low, 8)  # below the default of 10
    alerted = make_client_user(agency, company_name="Picky Co").organization
    credits_add(alerted, 80)
    alerts.alert_settings_save(organization=alerted, threshold=100, webhook_url="")
    calls(org, (10, 0), (20, 2), (5, 45))  # 30 minutes in the last 30 days
    sold(org, credits=100, cents=4000)
    sold(org, credits=100, cents=4000, refunded_cents=1000)
    sold(org, credits=500, cents=10000, currency="USD")
    sold(org, credits=100, cents=4000, days_ago=60)  # outside the period

    html = console.get("/console/ops/business/").text

    assert '<p class="figure" data-testid="minutes-used">30</p>' in html
    assert '<p class="figure" data-testid="minutes-balance">9,965</p>' in html
    assert html.count('data-testid="sales-row"') == 2
    assert "€70.00" in html and "$100.00" in html and "€10.00" in html  # EUR revenue 80 - 10; USD 100; refunded 10
    assert '<span data-testid="platform-cost">€2.10</span>' in html  # 30 minutes x 7 cents
    assert '<p class="figure" data-testid="margin">€117.90</p>' in html  # 70 + 100 x 0.5 - 2.10
    low_rows = html.split('data-testid="low-client"')[1:]
    assert [("Low Co" in r, "Picky Co" in r) for r in low_rows] == [(True, False), (False, True)]


def test_the_business_chart_draws_the_pages_period_and_the_page_links_it(console, org, agency):
    calls(org, (5, 0), (6, 3))
    today = timezone.now().date()
    period = {"start": str(today - timedelta(days=6)), "end": str(today)}

    html = console.get("/console/ops/business/", period).text

    assert "<svg" not in html
    daily = dashboards.daily_minutes(agency=agency, start=today - timedelta(days=6), end=today)
    chart = charts.Chart(
        series=daily,
        color="#10B981",
        label="Minutes used per day, all clients",
        url_name="ops_console:business_chart",
        query=(("start", period["start"]), ("end", period["end"])),
    )
    assert f'src="{html_escape(chart.desktop_src)}"' in html
    response = console.get("/console/ops/business/chart-desktop.svg", {**period, "v": chart.version("desktop")})
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    heights = svg_bars(response.content, color="#10B981")
    assert len(heights) == 7 and sum(h > 0 for h in heights) == 2


def test_a_chosen_period_counts_only_its_days(console, org):
    calls(org, (10, 0), (20, 40))
    today = timezone.now().date()
    html = console.get(
        "/console/ops/business/", {"start": str(today - timedelta(days=60)), "end": str(today - timedelta(days=30))}
    ).text
    assert '<p class="figure" data-testid="minutes-used">20</p>' in html


def test_sales_without_an_exchange_rate_are_left_out_of_the_margin_and_said_so(console, org, settings):
    settings.EXCHANGE_RATES = {"EUR": Decimal(1)}
    sold(org, credits=100, cents=5000, currency="GBP")
    html = console.get("/console/ops/business/").text
    assert "Leaves out sales in GBP" in html
    assert '<p class="figure" data-testid="margin">€0.00</p>' in html


def test_the_dashboard_query_count_does_not_grow_with_clients_or_calls(
    console, agency, org, make_client_user, django_assert_num_queries
):
    sold(org, credits=100, cents=4000)
    calls(org, (3, 1))
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert console.get("/console/ops/business/").status_code == 200
    for n in range(15):
        other = make_client_user(agency).organization
        credits_add(other, 5 + n)
        alerts.alert_settings_save(organization=other, threshold=20, webhook_url="")
        calls(other, (2, n), (1, n + 1))
        sold(other, credits=50, cents=2000, currency="USD" if n % 2 else "EUR")
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert console.get("/console/ops/business/").status_code == 200


# session, user, agency, daily series, sales, reserved minutes, minutes bought, low clients, client count
DASHBOARD_QUERIES = 9

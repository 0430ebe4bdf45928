"""Client pages on the portal: the usage report (range table, CSV, 30-day chart) and low-balance alerts."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agencies import access
from usage import selectors as usage_selectors

from . import alert_pages, charts, dashboards

REPORT_PAGE_SIZE = 50
# A spreadsheet runs a cell starting with one of these as a formula: the upstream chose these strings.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@login_required
def usage_report(request):
    organization = access.organization_or_404(request)
    start, end, problem = dashboards.period_from(request.GET)
    records = usage_selectors.usage_in_range(
        agency_id=organization.agency_id, organization=organization, start=start, end=end
    )
    totals = usage_selectors.usage_totals(
        agency_id=organization.agency_id, organization=organization, start=start, end=end
    )
    page = usage_selectors.CountedPaginator(
        records.only("pk", "record_id", "created_at", "number_id", "direction", "duration_sec", "minutes", "overdraft"),
        REPORT_PAGE_SIZE,
        count=totals.calls,  # from the rollups: paging never counts the calls
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "ops/usage_report.html",
        {
            "organization": organization,
            "start": start,
            "end": end,
            "period_problem": problem,
            "page": page,
            "totals": totals,
            "chart": _report_chart(request, organization),
            "query": f"start={start.isoformat()}&end={end.isoformat()}",
        },
        status=400 if problem else 200,
    )


def _report_chart(request, organization) -> charts.Chart:
    """The report's 30-day chart: the page links it, usage_report_chart draws it (the same series)."""
    return charts.Chart(
        series=dashboards.last_days_minutes(organization=organization),
        color=request.agency.primary_color,
        label="Minutes used per day, last 30 days",
        url_name="ops_portal:usage_report_chart",
    )


@login_required
def usage_report_chart(request, size: str):
    organization = access.organization_or_404(request)
    return charts.chart_response(request, _report_chart(request, organization), size)


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value):
        return value


@login_required
def usage_report_csv(request):
    """Every call in the range, oldest first, streamed (any size)."""
    organization = access.organization_or_404(request)
    start, end, problem = dashboards.period_from(request.GET)
    if problem:
        return render(
            request,
            "ops/usage_report_error.html",
            {"problem": problem, "back": reverse("ops_portal:usage_report")},
            status=400,
        )
    records = (
        usage_selectors.usage_in_range(
            agency_id=organization.agency_id, organization=organization, start=start, end=end
        )
        .order_by("created_at", "pk")
        .values_list("record_id", "created_at", "number_id", "direction", "duration_sec", "minutes", "overdraft")
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(
            ["call_id", "created_at_utc", "number_id", "direction", "duration_sec", "credits", "overdraft"]
        )
        for record_id, created_at, number_id, direction, seconds, minutes, overdraft in records.iterator(2000):
            yield writer.writerow(
                [
                    _cell(record_id),
                    created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    _cell(number_id),
                    direction,
                    seconds,
                    minutes,
                    "yes" if overdraft else "no",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{start.isoformat()}-to-{end.isoformat()}.csv"'
    return response


def _alert_place() -> dict:
    return {
        "base": "base.html",
        "unit": "credits",
        "self_url": reverse("ops_portal:alerts"),
        "roll_url": reverse("ops_portal:alerts_secret"),
        "test_url": reverse("ops_portal:alerts_test"),
        "retry_url_name": "ops_portal:alerts_retry",
    }


@login_required
def alerts(request):
    organization = access.organization_or_404(request, capability="alerts")
    return alert_pages.alerts_settings(
        request, owner={"organization": organization}, place={**_alert_place(), "account_name": organization.name}
    )


@login_required
@require_POST
def alerts_secret(request):
    organization = access.organization_or_404(request, capability="alerts")
    return alert_pages.secret_roll(
        request, owner={"organization": organization}, place={**_alert_place(), "account_name": organization.name}
    )


@login_required
@require_POST
def alerts_test(request):
    organization = access.organization_or_404(request, capability="alerts")
    return alert_pages.test_send(
        request, owner={"organization": organization}, place={**_alert_place(), "account_name": organization.name}
    )


@login_required
@require_POST
def alerts_retry(request, delivery_id: int):
    organization = access.organization_or_404(request, capability="alerts")
    return alert_pages.retry(
        request,
        owner={"organization": organization},
        place={**_alert_place(), "account_name": organization.name},
        delivery_id=delivery_id,
    )

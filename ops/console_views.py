"""Agency console pages: the business dashboard, low-balance alerts, the upstream usage source."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from agencies import access
from agencies.models import Agency
from core.confirm import confirm_page, confirmed

from . import alert_pages, charts, dashboards, sources
from .forms import UsageSourceForm
from .models import UsageSource


@login_required
def business(request):
    agency = access.agency_or_404(request)
    start, end, problem = dashboards.period_from(request.GET)
    board = dashboards.agency_dashboard(agency=agency, start=start, end=end)
    return render(
        request,
        "ops/business.html",
        {
            "agency": agency,
            "board": board,
            "period_problem": problem,
            "chart": _business_chart(board.start, board.end, board.daily),
            "platform_currency": settings.PLATFORM_CURRENCY,
            "minute_price_cents": settings.PLATFORM_MINUTE_PRICE_CENTS,
            "low_default": settings.LOW_BALANCE_DEFAULT_CREDITS,
        },
        status=400 if problem else 200,
    )


def _business_chart(start, end, daily) -> charts.Chart:
    """The business page's chart of its period: the page links it, business_chart draws it."""
    return charts.Chart(
        series=daily,
        color="#10B981",
        label="Minutes used per day, all clients",
        url_name="ops_console:business_chart",
        query=(("start", start.isoformat()), ("end", end.isoformat())),
    )


@login_required
def business_chart(request, size: str):
    agency = access.agency_or_404(request)
    start, end, _problem = dashboards.period_from(request.GET)  # as the page reads its period
    daily = dashboards.daily_minutes(agency=agency, start=start, end=end)  # as agency_dashboard does
    return charts.chart_response(request, _business_chart(start, end, daily), size)


def _alert_place(agency: Agency) -> dict:
    return {
        "base": "console/base.html",
        "unit": "minutes",
        "account_name": agency.company_name,
        "self_url": reverse("ops_console:alerts"),
        "roll_url": reverse("ops_console:alerts_secret"),
        "test_url": reverse("ops_console:alerts_test"),
        "retry_url_name": "ops_console:alerts_retry",
        "notifications_url": reverse("ops_console:notifications"),
    }


@login_required
def alerts(request):
    agency = access.agency_or_404(request, write="alerts")
    return alert_pages.alerts_settings(request, owner={"agency": agency}, place=_alert_place(agency))


@login_required
@require_POST
def alerts_secret(request):
    agency = access.agency_or_404(request, capability="alerts")
    return alert_pages.secret_roll(request, owner={"agency": agency}, place=_alert_place(agency))


def _source_page(request, agency, source, form, status=200):
    return render(
        request,
        "ops/usage_source.html",
        {
            "agency": agency,
            "source": source,
            "form": form,
            "rejections": source.rejections.all()[:20] if source else [],
            "lookback_days": settings.USAGE_PULL_LOOKBACK_DAYS,
        },
        status=status,
    )


@sensitive_post_parameters("api_key")
@login_required
def usage_source(request):
    agency = access.agency_or_404(request, write="usage_sources")
    source = UsageSource.objects.filter(agency=agency).first()
    if request.method != "POST":
        initial = (
            {"base_url": source.base_url, "start_date": source.start_date, "enabled": source.enabled}
            if source
            else {"start_date": dashboards.today(), "enabled": True}
        )
        return _source_page(request, agency, source, UsageSourceForm(initial=initial, has_key=bool(source)))
    form = UsageSourceForm(request.POST, has_key=bool(source and source.api_key))
    if not form.is_valid():
        return _source_page(request, agency, source, form, status=400)
    source = sources.usage_source_save(agency=agency, actor=request.user, **form.cleaned_data)
    if source.enabled:
        sources.usage_source_pull_now(source=source)
    messages.success(request, "Usage source saved." + (" The first sync starts in a moment." if source.enabled else ""))
    return redirect("ops_console:usage_source")


@login_required
@require_POST
def usage_source_sync(request):
    agency = access.agency_or_404(request, capability="usage_sources")
    source = UsageSource.objects.filter(agency=agency).first()
    if source is None or not source.enabled:
        messages.error(request, "Set up and enable a usage source first.")
    else:
        sources.usage_source_pull_now(source=source)
        messages.success(request, "A sync is queued; refresh this page in a moment to see how it went.")
    return redirect("ops_console:usage_source")


@login_required
@require_POST
def usage_source_delete(request):
    agency = access.agency_or_404(request, capability="usage_sources")
    source = UsageSource.objects.filter(agency=agency).first()
    if source is not None and not confirmed(request):
        return confirm_page(
            request,
            title="Remove the usage source?",
            consequences=[
                (
                    f"Calls are no longer pulled from {source.base_url}: calls made from now on are not charged "
                    "to your clients until you set a source up again."
                ),
                "Calls already charged stay charged.",
            ],
            button="Remove the usage source",
            action=reverse("ops_console:usage_source_delete"),
            cancel_url=reverse("ops_console:usage_source"),
            context={"agency": agency},
        )
    if sources.usage_source_remove(agency=agency, actor=request.user):
        messages.success(request, "Usage source removed: nothing is pulled any more. Calls already charged stay.")
    return redirect("ops_console:usage_source")

"""The client's dashboard and billing history on its agency's portal.

They live here, at the top layer, because they bring together the ledger
(billing) and the calls (usage); billing's own portal pages buy credits.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from agencies import access
from billing import selectors as billing_selectors
from core.money import round_ratio
from usage import history, selectors as usage_selectors

HISTORY_PAGE_SIZE = 25
PENDING_SHOWN = 10
RECENT_DAYS = 14


def home(request):
    """The portal's front page: the client dashboard once logged in."""
    if not request.user.is_authenticated:
        return render(request, "portal/landing.html")
    return dashboard(request)


@login_required
def dashboard(request):
    organization = access.organization_or_404(request)
    balance = usage_selectors.organization_balance(organization=organization)
    rate = history.daily_rate(organization=organization, days=RECENT_DAYS, now=timezone.now())
    threshold = organization.low_balance_threshold or settings.LOW_BALANCE_DEFAULT_CREDITS
    return render(
        request,
        "portal/dashboard.html",
        {
            "organization": organization,
            "balance": balance,
            "monthly_minutes": usage_selectors.monthly_usage_minutes(organization=organization),
            "recent_calls": history.recent_calls(organization=organization),
            "daily_rate": Decimal(round_ratio(rate * 10)).scaleb(-1),
            "days_left": history.days_left(free=balance.free, rate=rate),
            "recent_days": RECENT_DAYS,
            "pending": billing_selectors.pending_purchases(organization=organization)[:PENDING_SHOWN],
            "threshold": threshold,
            "low": organization.credits_balance < threshold,
        },
    )


@login_required
def billing_history(request):
    organization = access.organization_or_404(request, capability="invoices")
    kind = request.GET.get("kind", "")
    kind = kind if kind in history.KINDS else ""
    page = Paginator(history.history_rows(organization=organization, kind=kind), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = [history.HistoryRow(*row) for row in page.object_list]
    return render(
        request,
        "billing/home.html",
        {
            "organization": organization,
            "page": page,
            "kind": kind,
            "kinds": [(key, label) for key, (label, _) in history.KINDS.items()],
            "query": f"kind={kind}" if kind else "",
            "pending": billing_selectors.pending_purchases(organization=organization)[:PENDING_SHOWN],
        },
    )

"""One client as its agency sees it in the console: balance, usage, money, keys, alerts; notes; suspension.

Every list is capped (RECENT rows, newest first) and each is one query, so the
page costs the same however much the client has bought or called.
"""

from dataclasses import dataclass
from datetime import date

from agencies.models import Organization
from billing.models import LedgerEntry, Purchase
from billing.selectors import ledger_history
from invoices.models import Invoice
from usage import selectors as usage_selectors
from usage.models import ApiKey

from . import dashboards
from .models import AlertSettings

RECENT = 10
LEDGER_SHOWN = 20


@dataclass(frozen=True)
class ClientOverview:
    organization: Organization
    balance: usage_selectors.Balance
    daily: list[tuple[date, int]]
    minutes_in_period: int
    purchases: list[Purchase]
    invoices: list[Invoice]
    ledger: list[LedgerEntry]
    api_keys: list[ApiKey]
    alert_threshold: int | None
    alert_webhook: bool


def client_overview(*, organization: Organization) -> ClientOverview:
    daily = dashboards.last_days_minutes(organization=organization)
    alert_row = AlertSettings.objects.filter(organization=organization).only("webhook_url").first()
    return ClientOverview(
        organization=organization,
        balance=usage_selectors.organization_balance(organization=organization),
        daily=daily,
        minutes_in_period=sum(minutes for _, minutes in daily),
        purchases=list(
            Purchase.objects.filter(organization=organization)
            .select_related("buyer")
            .order_by("-created_at", "-pk")[:RECENT]
        ),
        invoices=list(Invoice.objects.filter(organization=organization).order_by("-issued_at", "-pk")[:RECENT]),
        ledger=list(ledger_history(organization=organization)[:LEDGER_SHOWN]),
        api_keys=list(ApiKey.objects.filter(organization=organization).order_by("-created_at", "-pk")[:RECENT]),
        alert_threshold=organization.low_balance_threshold,
        alert_webhook=bool(alert_row and alert_row.webhook_url),
    )

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import BalanceCrossing, LedgerEntry, Purchase, Refund, StripeEvent, StripeReconciliation


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """The ledger is append-only: corrections are new entries."""

    list_display = ["created_at", "organization", "agency", "kind", "amount", "balance_after", "reference", "actor"]
    list_select_related = ["organization", "agency", "actor"]
    list_filter = ["kind"]
    search_fields = ["reference", "description"]


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "agency",
        "organization",
        "credits",
        "amount_cents",
        "currency",
        "status",
        "stripe_session_id",
    ]
    list_select_related = ["agency", "organization"]
    list_filter = ["status", "livemode"]
    search_fields = ["stripe_session_id", "stripe_payment_intent_id", "reference"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["processed_at", "agency", "type", "event_id", "outcome"]
    list_select_related = ["agency"]
    list_filter = ["type"]
    search_fields = ["event_id"]


@admin.register(BalanceCrossing)
class BalanceCrossingAdmin(ReadOnlyAdmin):
    """Recorded by the ledger with the debit; taken (alerted) by the ops sweep."""

    list_display = [
        "created_at",
        "organization",
        "agency",
        "threshold",
        "balance_before",
        "balance_after",
        "reference",
        "taken_at",
    ]
    list_select_related = ["organization", "agency"]


@admin.register(StripeReconciliation)
class StripeReconciliationAdmin(ReadOnlyAdmin):
    """Each Stripe account's last reconciliation (billing.reconcile); the empty agency is the platform's."""

    list_display = [
        "account",
        "reconciled_at",
        "events_recovered_last",
        "events_recovered_total",
        "sessions_settled_last",
        "attempted_at",
        "problem",
    ]
    list_select_related = ["agency"]

    @admin.display(description="Stripe account", ordering="agency")
    def account(self, obj):
        return obj.agency or "The platform"


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds agencies made from their console (refunds made in Stripe show on their purchases)."""

    list_display = ["created_at", "purchase", "amount_cents", "currency", "reason", "note", "actor", "stripe_refund_id"]
    list_select_related = ["purchase", "purchase__organization", "actor"]
    list_filter = ["reason"]
    search_fields = ["stripe_refund_id", "note"]

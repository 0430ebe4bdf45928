from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from agencies.models import Agency, Organization


class LedgerEntry(models.Model):
    """One change of one balance. Append-only: never edited, never deleted.

    The account is either a client organization (credits) or an agency
    (minutes). `reference` makes a write idempotent per account.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        ALLOCATION = "allocation", "Allocation"
        DEDUCTION = "deduction", "Deduction"
        USAGE = "usage", "Usage"
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"
        REVERSAL = "reversal", "Reversal"
        ADJUSTMENT = "adjustment", "Adjustment"

    # No single-column indexes on the accounts: ledger_org_recent and ledger_agency_recent lead with
    # them (every call writes two entries, and each index more is a write more; billing 0015).
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
    )
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    amount = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reference = models.CharField(max_length=200)
    balance_after = models.BigIntegerField()
    # Indexed only where set (ledger_actor): usage entries, most of the ledger, have no actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    description = models.CharField(max_length=300, blank=True)
    # The Checkout purchase an entry credits, refunds or holds; ledger_check adds these up and
    # checks each sits on its purchase's own account (the client, or the agency for minutes).
    purchase = models.ForeignKey(
        "Purchase",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,  # ledger_purchase, where set
    )
    # On an agency's usage entry: the client whose call it charged (the paired client entry's account).
    # Written by the usage sync, so the agency's transactions group its usage per client without
    # looking the client's entry up by reference.
    usage_client = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False) & Q(agency__isnull=True))
                | (Q(organization__isnull=True) & Q(agency__isnull=False)),
                name="ledger_entry_one_account",
            ),
            # A reference is unique per account. Usage entries are left out: their reference is
            # `usage:<record id>`, and the usage record's own (agency, record_id) uniqueness, inserted in
            # the same transaction, already makes each one unique. Indexing the platform's random ids
            # twice more cost the sync a third of its speed once the indexes outgrew memory
            # (bench/README.md, "Sustained ingest").
            models.UniqueConstraint(
                fields=["organization", "reference"],
                condition=Q(organization__isnull=False) & ~Q(kind="usage"),
                name="ledger_reference_unique_per_org_not_usage",
            ),
            models.UniqueConstraint(
                fields=["agency", "reference"],
                condition=Q(agency__isnull=False) & ~Q(kind="usage"),
                name="ledger_reference_unique_per_agency_not_usage",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_nonzero"),
            models.CheckConstraint(
                condition=Q(usage_client__isnull=True) | Q(kind="usage", agency__isnull=False),
                name="ledger_usage_client_on_agency_usage",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="ledger_org_recent"),
            models.Index(fields=["agency", "-created_at"], name="ledger_agency_recent"),
            models.Index(fields=["actor"], name="ledger_actor", condition=Q(actor__isnull=False)),
            models.Index(fields=["purchase"], name="ledger_purchase", condition=Q(purchase__isnull=False)),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d} ({self.reference})"


class PurchaseStatus(models.TextChoices):
    PENDING = "pending", "Awaiting payment"
    PROCESSING = "processing", "Payment processing"
    FAILED = "failed", "Payment failed"
    EXPIRED = "expired", "Checkout expired"
    CANCELLED = "cancelled", "Cancelled"
    MISMATCH = "mismatch", "Not credited: mismatch"
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    DISPUTED = "disputed", "Disputed"
    DISPUTE_LOST = "dispute_lost", "Dispute lost"


# Statuses of a purchase that has not (yet) credited anything.
UNFULFILLED = [
    PurchaseStatus.PENDING,
    PurchaseStatus.PROCESSING,
    PurchaseStatus.FAILED,
    PurchaseStatus.EXPIRED,
    PurchaseStatus.CANCELLED,
    PurchaseStatus.MISMATCH,
]

# Checkouts the buyer left unpaid: the console hides them unless asked.
ABANDONED = [PurchaseStatus.EXPIRED, PurchaseStatus.CANCELLED]


class DisputeStatus(models.TextChoices):
    NONE = "", "None"
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class PurchaseKind(models.TextChoices):
    CHECKOUT = "checkout", "Checkout"
    TOPUP = "topup", "Top-up"
    AUTO_RELOAD = "auto_reload", "Auto-reload"


class Purchase(models.Model):
    """A payment through Stripe that credits a balance once paid. Two buyers:

    - a client buying a credit package on its agency's Stripe account
      (`organization` and `package` set; the client's credits move);
    - an agency buying call minutes from the platform on the platform's own
      Stripe account (`organization` and `package` empty; `credits` counts
      minutes and the agency's minutes move).

    Three kinds: Checkout (a session the buyer pays on Stripe's page), and a top-up or
    auto-reload (billing.topup: a saved payment method charged off-session, a
    PaymentIntent and no session; `idempotency_key` unique per buyer account).

    Created before the customer is sent to Stripe; the Stripe ids map back to
    it. Money and credits are integers. The credits it granted and took back
    are ledger entries pointing here; the counters below say how many, and
    ledger_check proves they agree.
    """

    Status = PurchaseStatus
    Kind = PurchaseKind
    DisputeStatus = DisputeStatus
    UNFULFILLED = UNFULFILLED

    reference = models.CharField(
        max_length=32, unique=True, help_text="Sent to Stripe as metadata and idempotency key."
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="purchases")
    # Empty for minutes an agency buys from the platform (then `agency` is the buyer).
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchases",
    )
    package = models.ForeignKey(
        "agencies.CreditPackage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchases",
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The package's terms when it was sold: what Stripe must have charged.
    credits = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    livemode = models.BooleanField()

    kind = models.CharField(max_length=20, choices=PurchaseKind.choices, default=PurchaseKind.CHECKOUT)
    # Top-ups: the caller's Idempotency-Key (unique per buyer account) and a digest of what it asked for,
    # so the same key with another request is refused; blank for Checkout.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    requested_cents = models.PositiveIntegerField(default=0, help_text="Top-ups: the amount asked for.")
    description = models.CharField(max_length=300, blank=True, default="", help_text="The ledger entry's, if given.")
    stripe_payment_method_id = models.CharField(max_length=255, blank=True, default="")
    # Why a top-up did not succeed: Stripe's decline code (or "authentication_required"), its message, and
    # where the customer confirms the payment on-session.
    decline_code = models.CharField(max_length=100, blank=True, default="")
    failure_message = models.CharField(max_length=300, blank=True, default="")
    authentication_url = models.URLField(max_length=1000, blank=True, default="")

    # Checkout only; NULL for top-ups, which have a PaymentIntent and no session (so no lookup by "" finds them).
    stripe_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True)
    stripe_charge_id = models.CharField(max_length=255, blank=True)
    # The platform's fee on a direct charge of a connected agency (application_fee_amount), minor units.
    application_fee_cents = models.PositiveIntegerField(default=0)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    mismatch_reason = models.CharField(max_length=300, blank=True)
    refunded_cents = models.PositiveIntegerField(default=0)
    credits_refunded = models.PositiveIntegerField(default=0)
    dispute_id = models.CharField(max_length=255, blank=True)
    dispute_status = models.CharField(max_length=10, choices=DisputeStatus.choices, blank=True, default="")
    dispute_cents = models.PositiveIntegerField(default=0)
    credits_disputed = models.PositiveIntegerField(default=0, help_text="Credits held back by a dispute right now.")

    created_at = models.DateTimeField(default=timezone.now)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(credits__gt=0), name="purchase_credits_positive"),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="purchase_amount_positive"),
            models.CheckConstraint(condition=Q(currency__in=["EUR", "USD", "GBP"]), name="purchase_currency_known"),
            models.CheckConstraint(condition=Q(status__in=PurchaseStatus.values), name="purchase_status_known"),
            models.CheckConstraint(
                condition=Q(dispute_status__in=DisputeStatus.values),
                name="purchase_dispute_status_known",
            ),
            models.CheckConstraint(
                condition=Q(refunded_cents__lte=F("amount_cents")), name="purchase_refund_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(dispute_cents__lte=F("amount_cents")), name="purchase_dispute_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(credits_refunded__lte=F("credits") - F("credits_disputed")),
                name="purchase_removed_within_credits",
            ),
            # Credited exactly when fulfilled; only credited purchases give credits back.
            models.CheckConstraint(
                condition=(
                    Q(fulfilled_at__isnull=True)
                    & Q(status__in=UNFULFILLED)
                    & Q(credits_refunded=0)
                    & Q(credits_disputed=0)
                )
                | (Q(fulfilled_at__isnull=False) & ~Q(status__in=UNFULFILLED)),
                name="purchase_fulfilled_matches_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="mismatch") | ~Q(mismatch_reason=""),
                name="purchase_mismatch_has_reason",
            ),
            models.UniqueConstraint(
                fields=["agency", "stripe_payment_intent_id"],
                condition=~Q(stripe_payment_intent_id=""),
                name="purchase_payment_intent_unique_per_agency",
            ),
            # Minute purchases are all paid on the platform's one Stripe account.
            models.UniqueConstraint(
                fields=["stripe_payment_intent_id"],
                condition=Q(organization__isnull=True) & ~Q(stripe_payment_intent_id=""),
                name="purchase_platform_payment_intent_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind="checkout", organization__isnull=False, package__isnull=False)
                | Q(organization__isnull=True, package__isnull=True)
                | (~Q(kind="checkout") & Q(package__isnull=True)),
                name="purchase_package_for_client_checkout_only",
            ),
            models.CheckConstraint(condition=Q(kind__in=PurchaseKind.values), name="purchase_kind_known"),
            # A Checkout purchase has its session; a top-up its idempotency key.
            models.CheckConstraint(
                condition=Q(kind="checkout", stripe_session_id__isnull=False, idempotency_key="")
                | (~Q(kind="checkout") & Q(stripe_session_id__isnull=True) & ~Q(idempotency_key="")),
                name="purchase_session_or_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=Q(organization__isnull=False) & ~Q(idempotency_key=""),
                name="purchase_idempotency_key_unique_per_organization",
            ),
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"],
                condition=Q(organization__isnull=True) & ~Q(idempotency_key=""),
                name="purchase_idempotency_key_unique_per_agency",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "-created_at"], name="purchase_agency_recent"),
            models.Index(fields=["organization", "-created_at"], name="purchase_org_recent"),
            # The ops sweep looks for recently paid purchases (ops.notices).
            models.Index(fields=["fulfilled_at"], name="purchase_fulfilled"),
        ]

    def __str__(self):
        if self.is_minutes:
            return f"{self.credits} minutes for agency {self.agency_id} ({self.status})"
        return f"{self.credits} credits for {self.organization} ({self.status})"

    @property
    def is_minutes(self) -> bool:
        """An agency buying call minutes from the platform (not a client buying credits)."""
        return self.organization_id is None

    @property
    def unit(self) -> str:
        return "minutes" if self.is_minutes else "credits"

    def ledger_account(self) -> dict:
        """The entry_post keyword naming the balance this purchase moves."""
        if self.is_minutes:
            return {"agency": Agency(pk=self.agency_id)}
        return {"organization": Organization(pk=self.organization_id)}

    @property
    def badge(self) -> str:
        """CSS tone of the status badge."""
        if self.status == PurchaseStatus.PAID:
            return "ok"
        neutral = (
            PurchaseStatus.PENDING,
            PurchaseStatus.PROCESSING,
            PurchaseStatus.EXPIRED,
            PurchaseStatus.CANCELLED,
        )
        return "" if self.status in neutral else "bad"

    @property
    def credits_kept(self) -> int:
        """Credits this purchase should hold on the client's balance now."""
        return self.credits - self.credits_refunded - self.credits_disputed if self.fulfilled_at else 0


class StripeEvent(models.Model):
    """A Stripe event a webhook has processed: a redelivery changes nothing.

    `agency` names the agency's own Stripe account; empty, the platform's.
    """

    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="stripe_events")
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    outcome = models.CharField(max_length=200, blank=True)
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-processed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "event_id"], name="stripe_event_once_per_agency"),
            models.UniqueConstraint(
                fields=["event_id"], condition=Q(agency__isnull=True), name="stripe_event_once_for_platform"
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class BalanceCrossing(models.Model):
    """A debit took a balance from its low-balance threshold or more to below it.

    Written by the ledger in the transaction of the debit, under the account's
    row lock, so exactly one debit records each crossing. Billing only records
    it: ops (ops.alerts.crossings_deliver) takes each crossing once, turning it
    into an alert with its email and webhook, and sets `taken_at` in the same
    transaction.

    Kind EXHAUSTED: a call was refused because the agency had no free minute
    left (usage.reservations.call_authorize); one per exhaustion episode, the
    next one armed when the agency's minutes are topped up
    (billing.crossings.exhaustion_record). Its threshold is 1 (a call needs one
    free minute), balance_before the agency's balance, balance_after its free
    minutes (balance less reservations).
    """

    class Kind(models.TextChoices):
        LOW = "low", "Low balance"
        EXHAUSTED = "exhausted", "Minutes exhausted"

    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="balance_crossings",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LOW, db_default=Kind.LOW)
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="balance_crossings"
    )
    threshold = models.PositiveIntegerField()
    balance_before = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reference = models.CharField(max_length=200, help_text="The ledger reference of the debit that crossed.")
    created_at = models.DateTimeField(default=timezone.now)
    taken_at = models.DateTimeField(null=True, blank=True, help_text="When ops took it to alert; empty: not yet.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False) & Q(agency__isnull=True))
                | (Q(organization__isnull=True) & Q(agency__isnull=False)),
                name="balance_crossing_one_account",
            ),
            models.CheckConstraint(
                condition=Q(kind="exhausted", agency__isnull=False, balance_after__lt=F("threshold"))
                | Q(kind="low", balance_before__gte=F("threshold"), balance_after__lt=F("threshold")),
                name="balance_crossing_is_a_crossing",
            ),
            # A ledger reference is posted once per account, so it crosses at most once.
            models.UniqueConstraint(
                fields=["organization", "reference"],
                condition=Q(organization__isnull=False),
                name="balance_crossing_once_per_org_debit",
            ),
            models.UniqueConstraint(
                fields=["agency", "reference"],
                condition=Q(agency__isnull=False),
                name="balance_crossing_once_per_agency_debit",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], condition=Q(taken_at__isnull=True), name="balance_crossing_new")]

    def __str__(self):
        owner = f"organization {self.organization_id}" if self.organization_id else f"agency {self.agency_id}"
        return f"{owner} below {self.threshold} ({self.reference})"


class StripeReconciliation(models.Model):
    """When the portal last compared one Stripe account's recent events with those it processed
    (billing.reconcile), and how many it had missed. `agency` empty: the platform's account."""

    agency = models.OneToOneField(
        Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="stripe_reconciliation"
    )
    attempted_at = models.DateTimeField(help_text="The last run, whether or not Stripe answered.")
    reconciled_at = models.DateTimeField(null=True, blank=True, help_text="The last run that finished.")
    events_recovered_last = models.PositiveIntegerField(default=0)
    events_recovered_total = models.PositiveIntegerField(default=0)
    sessions_settled_last = models.PositiveIntegerField(default=0)
    problem = models.CharField(
        max_length=300, blank=True, help_text="Why the last run did not finish; empty if it did."
    )

    class Meta:
        constraints = [
            # A OneToOne allows many empty agencies: one row for the platform, by a unique constant.
            models.UniqueConstraint(
                models.Value(1), condition=Q(agency__isnull=True), name="stripe_reconciliation_once_for_platform"
            ),
        ]

    def __str__(self):
        return f"Stripe reconciliation of {self.agency or 'the platform'}"


class Refund(models.Model):
    """A refund an agency admin made from the console (Stripe's Refunds API), with its reason.

    The credits it removed are ledger entries of its purchase, posted from Stripe's
    running total of the charge (billing.refunds.refund_record) like any other refund.
    """

    class Reason(models.TextChoices):
        REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by the customer"
        DUPLICATE = "duplicate", "Duplicate payment"
        FRAUDULENT = "fraudulent", "Fraudulent"

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    stripe_refund_id = models.CharField(max_length=255, unique=True)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=30, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(reason__in=["requested_by_customer", "duplicate", "fraudulent"]), name="refund_reason_known"
            ),
        ]

    def __str__(self):
        return f"{self.stripe_refund_id} ({self.amount_cents} {self.currency})"


# --- Auto-reload (billing.auto_reload) ----------------------------------------------


def _one_account() -> Q:
    return (Q(organization__isnull=False) & Q(agency__isnull=True)) | (
        Q(organization__isnull=True) & Q(agency__isnull=False)
    )


class AutoReload(models.Model):
    """An account's auto-reload: when a debit takes its balance below `threshold`, charge `amount_cents`.

    One row per account: a client's credits (`organization`) or an agency's platform minutes
    (`agency`, with no organization). `armed` says the next debit below the threshold may queue a
    reload although it crosses nothing (a failed reload wants another try); a crossing (from the
    threshold or more to below it) always may. Queueing clears it (billing.reload_queue).
    """

    organization = models.OneToOneField(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="auto_reload"
    )
    agency = models.OneToOneField(Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="auto_reload")
    enabled = models.BooleanField(default=False)
    threshold = models.PositiveIntegerField(null=True, blank=True, help_text="Credits or minutes.")
    amount_cents = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)
    monthly_cap_cents = models.PositiveIntegerField(null=True, blank=True)
    armed = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    consecutive_declines = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_one_account(), name="auto_reload_one_account"),
            models.CheckConstraint(
                condition=Q(enabled=False)
                | (
                    Q(threshold__gte=1, amount_cents__gt=0, monthly_cap_cents__gte=F("amount_cents"))
                    & ~Q(payment_method_id="")
                    & ~Q(currency="")
                ),
                name="auto_reload_enabled_is_complete",
            ),
        ]

    def __str__(self):
        owner = f"organization {self.organization_id}" if self.organization_id else f"agency {self.agency_id}"
        return f"auto-reload of {owner}"

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def unit(self) -> str:
        return "credits" if self.organization_id else "minutes"


class AutoReloadConsent(models.Model):
    """Someone agreed to automatic charges: who, when, and to what amount and monthly cap. Append-only."""

    auto_reload = models.ForeignKey(AutoReload, on_delete=models.CASCADE, related_name="consents")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    by = models.CharField(max_length=254, help_text='The person\'s email, or "API key <prefix>".')
    threshold = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField()
    monthly_cap_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    payment_method_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"consent by {self.by} at {self.created_at:%Y-%m-%d %H:%M}"


class ReloadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Charging"
    SUCCEEDED = "succeeded", "Succeeded"
    PENDING = "pending", "Paid, settling"  # accepted by Stripe, credited when it settles (SEPA)
    DECLINED = "declined", "Declined"
    AUTHENTICATION_REQUIRED = "authentication_required", "Needs authentication"
    FAILED = "failed", "Failed"
    SKIPPED_RECOVERED = "skipped_recovered", "Skipped: balance recovered"
    SKIPPED_CAP = "skipped_cap", "Skipped: monthly cap reached"
    SKIPPED_DISABLED = "skipped_disabled", "Skipped: auto-reload off or paused"


class AutoReloadAttempt(models.Model):
    """One automatic reload: queued by the debit that took the balance below the threshold, charged by the worker."""

    Status = ReloadStatus
    OPEN = (Status.QUEUED, Status.PROCESSING)
    CHARGED = (Status.PROCESSING, Status.SUCCEEDED, Status.PENDING)  # count against the monthly cap

    auto_reload = models.ForeignKey(AutoReload, on_delete=models.CASCADE, related_name="attempts")
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.QUEUED)
    threshold = models.PositiveIntegerField(help_text="The threshold when it was queued.")
    balance = models.BigIntegerField(help_text="The balance the debit left, below the threshold.")
    reference = models.CharField(max_length=200, help_text="The ledger reference of the debit that queued it.")
    amount_cents = models.PositiveIntegerField(null=True, blank=True)
    charged_cents = models.PositiveIntegerField(default=0, help_text="What the card was charged, VAT included.")
    currency = models.CharField(max_length=3, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True, help_text="The method charged.")
    reason = models.CharField(max_length=300, blank=True)
    decline_code = models.CharField(max_length=100, blank=True)
    authentication_url = models.URLField(max_length=1000, blank=True)
    purchase = models.ForeignKey(
        "billing.Purchase", null=True, blank=True, on_delete=models.SET_NULL, related_name="auto_reload_attempts"
    )
    created_at = models.DateTimeField(default=timezone.now)
    run_after = models.DateTimeField(default=timezone.now, help_text="Not charged before (the hourly limit).")
    charged_at = models.DateTimeField(null=True, blank=True, help_text="When the charge was sent to Stripe.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["auto_reload"], condition=Q(status__in=["queued", "processing"]), name="auto_reload_one_open"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReloadStatus.values), name="auto_reload_attempt_status_known"
            ),
        ]
        indexes = [models.Index(fields=["run_after"], condition=Q(status="queued"), name="auto_reload_queued")]

    def __str__(self):
        return f"auto-reload attempt {self.pk} ({self.status})"


class StripeCustomer(models.Model):
    """The Stripe customer a buyer's saved payment methods live on, on one Stripe account.

    A client (organization) is a customer on its agency's account; an agency buying minutes
    (organization empty) on the platform's. `account` names that account ("platform",
    "own" for the agency's own key, or the connected account id), so a switch to
    another account gets a new customer there.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="stripe_customers")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="stripe_customers"
    )
    account = models.CharField(max_length=255)
    customer_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "account"],
                condition=Q(organization__isnull=False),
                name="stripe_customer_once_per_organization",
            ),
            models.UniqueConstraint(
                fields=["agency", "account"],
                condition=Q(organization__isnull=True),
                name="stripe_customer_once_per_agency",
            ),
        ]

    def __str__(self):
        return f"{self.customer_id} on {self.account}"

import re

from django import forms
from django.core.exceptions import ValidationError

MAX_CREDITS = 1_000_000


class AllocationForm(forms.Form):
    """An agency admin adds or deducts credits by hand, always with a description."""

    action = forms.ChoiceField(
        choices=[("allocate", "Add credits"), ("deduct", "Deduct credits")],
        widget=forms.RadioSelect,
        initial="allocate",
        label="Action",
    )
    credits = forms.IntegerField(
        label="Credits",
        min_value=1,
        max_value=MAX_CREDITS,
        error_messages={
            "invalid": "Enter a whole number of credits.",
            "min_value": "Enter at least 1 credit.",
            "max_value": f"Enter at most {MAX_CREDITS:,} credits at a time.",
        },
    )
    description = forms.CharField(
        label="Description",
        max_length=300,
        help_text="Shown in the client's history, e.g. “Invoice #INV-2024-001” or the reason for a deduction.",
        error_messages={"required": "Enter a description: it is shown in the client's history."},
    )
    # One token per form: submitting the same form twice records one allocation.
    token = forms.CharField(widget=forms.HiddenInput, max_length=32)

    def clean_description(self):
        description = self.cleaned_data["description"].strip()
        if not description:
            raise ValidationError("Enter a description: it is shown in the client's history.")
        return description

    def clean_token(self):
        token = self.cleaned_data["token"]
        if not re.fullmatch(r"[0-9a-f]{32}", token):
            raise ValidationError("This form has expired; reload the page and try again.")
        return token


class MinutesForm(forms.Form):
    """How many call minutes an agency buys from the platform (limits in settings)."""

    minutes = forms.IntegerField(
        label="Minutes",
        min_value=1,
        error_messages={
            "invalid": "Enter a whole number of minutes.",
            "min_value": "Enter a whole number of minutes.",
        },
    )

    def clean_minutes(self):
        from .minutes import MinutesRefused, minutes_validate  # forms stay importable without billing services

        try:
            return minutes_validate(self.cleaned_data["minutes"])
        except MinutesRefused as refused:
            raise ValidationError(str(refused)) from None


class StripeKeyForm(forms.Form):
    """One Stripe key (a restricted rk_ key is best); the portal sets up everything else. Write-only."""

    secret_key = forms.CharField(
        max_length=255,
        label="Stripe key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "placeholder": "rk_test_…"}),
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        if agency.stripe_secret_key:
            self.fields[
                "secret_key"
            ].help_text = f"Stored: ends in …{agency.stripe_secret_key[-4:]}. Paste a new key to replace it."

    def clean_secret_key(self):
        value = self.cleaned_data["secret_key"].strip()
        if not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9]{8,}", value):
            raise ValidationError("A Stripe key starts with rk_test_, rk_live_, sk_test_ or sk_live_.")
        return value


MAX_REFUND_CENTS = 100_000_000


class RefundForm(forms.Form):
    """An agency admin refunds (part of) a purchase from the console; Stripe's reasons, plus a note."""

    amount = forms.CharField(
        label="Amount",
        required=False,
        max_length=20,
        help_text="Leave empty to refund everything that remains. For part of it, e.g. 12.50.",
    )
    reason = forms.ChoiceField(
        label="Reason",
        choices=[
            ("requested_by_customer", "Requested by the customer"),
            ("duplicate", "Duplicate payment"),
            ("fraudulent", "Fraudulent"),
        ],
        initial="requested_by_customer",
        error_messages={"required": "Choose a reason.", "invalid_choice": "Choose one of the reasons listed."},
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=500,
        help_text="Kept with the refund in Stripe (its metadata) and here; not shown to the client.",
    )
    # One token per form: submitting the same form twice refunds once (Stripe's idempotency key).
    token = forms.CharField(widget=forms.HiddenInput, max_length=32)
    # The second step when the client's credits are spent: the balance goes below zero.
    confirm = forms.BooleanField(widget=forms.HiddenInput, required=False)

    def clean_amount(self) -> int | None:
        """Minor units (all the portal's currencies have two decimals); None for everything that remains."""
        raw = self.cleaned_data["amount"].strip().replace(",", ".")
        if not raw:
            return None
        match = re.fullmatch(r"(\d{1,9})(?:\.(\d{1,2}))?", raw)
        if match is None:
            raise ValidationError("Enter an amount like 12.50 (no currency sign), or leave it empty.")
        cents = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
        if cents <= 0:
            raise ValidationError("Enter an amount above zero.")
        if cents > MAX_REFUND_CENTS:
            raise ValidationError("That is more than any purchase costs.")
        return cents

    def clean_note(self) -> str:
        return self.cleaned_data["note"].strip()

    def clean_token(self):
        token = self.cleaned_data["token"]
        if not re.fullmatch(r"[0-9a-f]{32}", token):
            raise ValidationError("This form has expired; reload the page and try again.")
        return token

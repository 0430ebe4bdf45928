"""The auto-reload settings form (billing.reload_views); the rules themselves are billing.auto_reload's."""

from decimal import Decimal

from django import forms

from .reload_methods import Method


class AutoReloadForm(forms.Form):
    enabled = forms.BooleanField(
        required=False,
        label="Reload automatically",
        help_text="Turning it on, or changing what it charges, records your consent with your name and the time.",
    )
    threshold = forms.IntegerField(min_value=1, max_value=100_000_000, label="When the balance falls below")
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=9, decimal_places=2, label="Charge", help_text="e.g. 50.00"
    )
    payment_method_id = forms.CharField(max_length=255, label="Payment method")
    monthly_cap = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_digits=9,
        decimal_places=2,
        label="Monthly cap",
        help_text="Automatic charges stop for the calendar month (UTC) once the next one would go above this; "
        "it counts what the card is charged, VAT included.",
    )

    def __init__(self, *args, methods: list[Method] | None, currency: str, unit: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["threshold"].help_text = f"In {unit}."
        self.fields["amount"].label = f"Charge ({currency})"
        self.fields["monthly_cap"].label = f"Monthly cap ({currency})"
        if methods is not None:
            choices = [(m.id, m.label + (" (default)" if m.default else "")) for m in methods]
            current = self.initial.get("payment_method_id")
            if current and current not in {m.id for m in methods}:
                choices.append((current, f"{current} (no longer saved)"))
            self.fields["payment_method_id"] = forms.ChoiceField(
                choices=[("", "Choose a saved card or account")] + choices,
                label="Payment method",
                help_text="One of your saved payment methods.",
            )
        else:
            self.fields["payment_method_id"].help_text = "The id of a saved payment method (pm_…)."

    @staticmethod
    def cents(value: Decimal) -> int:
        return int(value * 100)  # two decimal places: exact

    def changes(self) -> dict:
        data = self.cleaned_data
        return {
            "enabled": data["enabled"],
            "threshold": data["threshold"],
            "amount_cents": self.cents(data["amount"]),
            "payment_method_id": data["payment_method_id"],
            "monthly_cap_cents": self.cents(data["monthly_cap"]),
        }

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import outbound

MAX_THRESHOLD = 100_000_000


class AlertSettingsForm(forms.Form):
    threshold = forms.IntegerField(
        label="Alert below",
        required=False,
        min_value=1,
        max_value=MAX_THRESHOLD,
        help_text="Alert when the balance falls below this many. Leave empty for no alerts.",
        error_messages={
            "invalid": "Enter a whole number.",
            "min_value": "Enter at least 1, or leave it empty.",
            "max_value": f"Enter at most {MAX_THRESHOLD:,}.",
        },
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=500,
        help_text="Optional. We POST a signed billing.balance_low event here when the balance falls below.",
    )

    def clean_webhook_url(self):
        url = self.cleaned_data["webhook_url"].strip()
        if url:
            problem = outbound.url_problem(url)
            if problem:
                raise ValidationError(problem)
            forms.URLField(assume_scheme="https").clean(url)
        return url


class UsageSourceForm(forms.Form):
    base_url = forms.CharField(
        label="API base URL",
        max_length=500,
        help_text="The calling platform's API, e.g. https://api.example.com: we read /api/v1/usage from it.",
    )
    # Never rendered back: the field is always empty on the page.
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Sent as Authorization: Bearer. Stored encrypted; leave empty to keep the saved key.",
    )
    start_date = forms.DateField(
        label="Pull calls from",
        help_text="The first day (UTC) pulled when nothing has been synced yet.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    enabled = forms.BooleanField(label="Pull automatically", required=False, initial=True)

    def __init__(self, *args, has_key: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_key = has_key

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip().rstrip("/")
        problem = outbound.url_problem(url)
        if problem:
            raise ValidationError(problem)
        if "?" in url or "#" in url:
            raise ValidationError("Enter the base address only, without ? or #.")
        forms.URLField(assume_scheme="https").clean(url)
        return url

    def clean_api_key(self):
        key = self.cleaned_data["api_key"]
        if not key and not self.has_key:
            raise ValidationError("Enter the API key the calling platform gave you.")
        if any(ch.isspace() for ch in key):
            raise ValidationError("An API key has no spaces in it.")
        return key

    def clean_start_date(self):
        start = self.cleaned_data["start_date"]
        if start > timezone.now().date():
            raise ValidationError("Choose today or a day before.")
        return start


class ClientNotesForm(forms.Form):
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Private to your agency: the client never sees them.",
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(
        label="Reason (shown to the client)",
        required=False,
        max_length=200,
        help_text="Optional, e.g. 'Unpaid invoice 2026-0012'.",
    )


class NotificationsForm(forms.Form):
    notify_client_signup = forms.BooleanField(label="Email us when a new client signs up", required=False)
    notify_purchase = forms.BooleanField(label="Email us when a client's purchase is paid", required=False)

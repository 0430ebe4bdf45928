from django import forms


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the key is for, e.g. “Calling platform sync”.",
        widget=forms.TextInput(attrs={"placeholder": "Calling platform sync"}),
    )


class MinutesForm(forms.Form):
    """The platform operator adds (or, negative, removes) an agency's call minutes."""

    minutes = forms.IntegerField(
        min_value=-10_000_000,
        max_value=10_000_000,
        help_text="Whole minutes to add; negative to take some back (never below zero).",
    )
    description = forms.CharField(max_length=300, help_text="Shown in the ledger, e.g. “Invoice PLT-2025-014”.")
    # One per form shown: submitting the same form twice adds the minutes once.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_minutes(self):
        minutes = self.cleaned_data["minutes"]
        if minutes == 0:
            raise forms.ValidationError("Enter a number of minutes other than zero.")
        return minutes

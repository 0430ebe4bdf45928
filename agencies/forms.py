from decimal import Decimal

from allauth.account.forms import ResetPasswordForm, SignupForm, UserTokenForm
from allauth.core import context
from django import forms
from django.core.exceptions import ValidationError

from core import outbound
from core.stripe_keys import key_mode

from . import validators
from .models import Agency, CreditPackage, User


def _request_agency():
    request = context.request
    return getattr(request, "agency", None) if request is not None else None


EMAIL_TAKEN = "An account with this email already exists here. Log in or reset your password."


class PortalSignupForm(SignupForm):
    """Sign-up on the console (a new agency) or on a portal (a new client).

    Both ask for a company name; the adapter decides what it becomes. An email
    is unique on its own host only.
    """

    company_name = forms.CharField(max_length=100, label="Company name")
    field_order = ["company_name", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields(self.field_order)

    def clean_company_name(self):
        name = self.cleaned_data["company_name"].strip()
        if not name:
            raise ValidationError("Enter your company name.")
        return name

    def validate_unique_email(self, value):
        if User.objects.filter(email__iexact=value, agency=_request_agency()).exists():
            raise ValidationError(EMAIL_TAKEN)
        self.account_already_exists = False
        return value


class PortalResetPasswordForm(ResetPasswordForm):
    """Password reset only ever reaches the account of the host it was asked on."""

    def clean_email(self):
        email = super().clean_email()
        agency = _request_agency()
        self.users: list[User] = [user for user in self.users if user.agency_id == (agency.pk if agency else None)]
        return email


class PortalUserTokenForm(UserTokenForm):
    def _get_user(self, uidb36):
        user = super()._get_user(uidb36)
        agency = _request_agency()
        if user is not None and user.agency_id != (agency.pk if agency else None):
            return None
        return user


class BrandingForm(forms.ModelForm):
    # A bare "cdn.example.com/logo.png" means https; http:// is refused below.
    logo_url = forms.URLField(max_length=500, required=False, assume_scheme="https", label="Logo URL")

    class Meta:
        model = Agency
        fields = ["company_name", "logo_url", "primary_color", "accent_color", "slug"]
        labels = {"slug": "Portal slug"}
        widgets = {
            "primary_color": forms.TextInput(attrs={"type": "color"}),
            "accent_color": forms.TextInput(attrs={"type": "color"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = True
        self.fields["slug"].help_text = "3–50 lowercase letters, digits and hyphens."

    def clean_company_name(self):
        name = self.cleaned_data["company_name"].strip()
        if not name:
            raise ValidationError("Enter your company name.")
        return name

    def clean_logo_url(self):
        url = self.cleaned_data["logo_url"].strip()
        if url and not url.lower().startswith("https://"):
            raise ValidationError("The logo must be served over https://.")
        problem = outbound.url_problem(url, schemes=("https",)) if url else ""
        if problem:
            raise ValidationError(problem)
        return url

    def clean_primary_color(self):
        validators.validate_color(self.cleaned_data["primary_color"])
        return self.cleaned_data["primary_color"].upper()

    def clean_accent_color(self):
        validators.validate_color(self.cleaned_data["accent_color"])
        return self.cleaned_data["accent_color"].upper()

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip()
        validators.validate_slug(slug)
        if Agency.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists():
            raise ValidationError("This slug is already taken.")
        return slug


class DomainForm(forms.Form):
    custom_domain = forms.CharField(
        max_length=253,
        required=False,
        label="Custom domain",
        help_text="For example portal.yourdomain.com. Leave empty to remove.",
    )

    def __init__(self, *args, agency: Agency, **kwargs):
        self.agency = agency
        super().__init__(*args, **kwargs)

    def clean_custom_domain(self):
        raw = self.cleaned_data["custom_domain"].strip()
        if not raw:
            return None
        domain = validators.normalize_hostname(raw)
        taken = Agency.objects.filter(custom_domain=domain, domain_status=Agency.DomainStatus.VERIFIED)
        if taken.exclude(pk=self.agency.pk).exists():
            raise ValidationError("This domain is already used by another portal.")
        return domain


class StripeForm(forms.Form):
    """Stripe settings. Secrets are write-only: blank keeps the stored value."""

    stripe_publishable_key = forms.CharField(max_length=255, required=False, label="Publishable key")
    stripe_secret_key = forms.CharField(
        max_length=255,
        required=False,
        label="Secret key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    stripe_product_id = forms.CharField(max_length=255, required=False, label="Product ID")
    stripe_price_id = forms.CharField(max_length=255, required=False, label="Price ID")
    stripe_webhook_secret = forms.CharField(
        max_length=255,
        required=False,
        label="Webhook signing secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    _checks = {
        "stripe_publishable_key": validators.validate_publishable_key,
        "stripe_secret_key": validators.validate_secret_key,
        "stripe_product_id": validators.validate_product_id,
        "stripe_price_id": validators.validate_price_id,
        "stripe_webhook_secret": validators.validate_webhook_secret,
    }

    def __init__(self, *args, agency: Agency, **kwargs):
        self.agency = agency
        initial = {f: getattr(agency, f) for f in ("stripe_publishable_key", "stripe_product_id", "stripe_price_id")}
        super().__init__(*args, **{**kwargs, "initial": initial})
        for field in ("stripe_secret_key", "stripe_webhook_secret"):
            stored = getattr(agency, field)
            if stored:
                self.fields[field].help_text = f"Stored: ends in …{stored[-4:]}. Leave blank to keep it."

    def clean(self):
        super().clean()
        data = self.cleaned_data
        for field, check in self._checks.items():
            value = (data.get(field) or "").strip()
            data[field] = value
            if value:
                try:
                    check(value)
                except ValidationError as exc:
                    self.add_error(field, exc)
        publishable = data.get("stripe_publishable_key")
        secret = data.get("stripe_secret_key") or self.agency.stripe_secret_key
        # Compare modes only between well-formed keys; a malformed one already has its message.
        well_formed = not self.has_error("stripe_publishable_key") and not self.has_error("stripe_secret_key")
        if publishable and secret and well_formed:
            if key_mode(publishable) != key_mode(secret):
                self.add_error(
                    "stripe_secret_key",
                    "The secret key and the publishable key must both be test keys or both live keys.",
                )
        return data


_CREDITS_RANGE = "A package holds between 1 and 1,000,000 credits."
_PRICE_POSITIVE = "The price must be more than zero."


class PackageForm(forms.ModelForm):
    credits = forms.IntegerField(
        min_value=1,
        max_value=1_000_000,
        label="Credits (1 credit = 1 minute)",
        error_messages={"min_value": _CREDITS_RANGE, "max_value": _CREDITS_RANGE},
    )
    price = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_digits=9,
        decimal_places=2,
        label="Price",
        help_text="In the package currency, e.g. 40.00",
        error_messages={"min_value": _PRICE_POSITIVE},
    )

    class Meta:
        model = CreditPackage
        fields = ["credits", "currency"]

    field_order = ["credits", "price", "currency"]

    def clean_price(self):
        # Money is kept in integer minor units; two decimal places make this exact.
        return int(self.cleaned_data["price"] * 100)


class SecurityForm(forms.Form):
    """The console's Security page: whom the agency requires two-factor sign-in of."""

    mfa_required_members = forms.BooleanField(
        required=False,
        label="Require two-factor sign-in for the agency's members",
        help_text="Everyone who signs in to this console must set up an authenticator app or a security key first.",
    )
    mfa_required_clients = forms.BooleanField(
        required=False,
        label="Require two-factor sign-in for your clients' users",
        help_text="Everyone who signs in to your portal must set up an authenticator app or a security key first.",
    )

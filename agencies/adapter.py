from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from . import services, tenancy


def _absolute(request, path: str) -> str:
    """An absolute URL on the request's own tenant, built from its canonical
    origin and never from the raw Host header."""
    agency = getattr(request, "agency", None)
    return tenancy.portal_url(agency, path) if agency else tenancy.console_url(path)


class PortalAccountAdapter(DefaultAccountAdapter):
    """Ties every sign-up to the host it happened on.

    On the console a sign-up starts a new agency; on a portal it creates the
    client's organization under that portal's agency.
    """

    def is_open_for_signup(self, request):
        agency = getattr(request, "agency", None)
        return agency is None or agency.is_active

    def save_user(self, request, user, form, commit=True):
        agency = getattr(request, "agency", None)
        user.agency = agency
        company_name = form.cleaned_data["company_name"]
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=True)
            if agency is None:
                services.agency_create(company_name=company_name, admin=user)
            else:
                services.client_signup(user=user, agency=agency, company_name=company_name)
        return user

    def get_email_confirmation_url(self, request, emailconfirmation):
        return _absolute(request, reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key):
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return _absolute(self.request, path.replace("UID-KEY", key))

    def format_email_subject(self, subject):
        agency = getattr(self.request, "agency", None)
        return f"[{agency.company_name if agency else settings.PLATFORM_NAME}] {subject}"

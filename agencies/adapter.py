from types import SimpleNamespace
from urllib.parse import urlsplit

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


def _canonical(request, url: str) -> str:
    """`url` moved onto the request tenant's canonical origin."""
    parts = urlsplit(url)
    return _absolute(request, parts.path + (f"?{parts.query}" if parts.query else ""))


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

    def send_mail(self, template_prefix, email, context):
        # allauth builds some links (the sign-up link in "unknown account"
        # mails, say) and `current_site` from the Host header. Every link and
        # name in a mail comes from the tenant's canonical origin instead.
        request = self.request
        context = dict(context)
        for key, value in context.items():
            if key.endswith("_url") and isinstance(value, str) and value:
                context[key] = _canonical(request, value)
        agency = getattr(request, "agency", None)
        context["current_site"] = SimpleNamespace(
            name=agency.company_name if agency else settings.PLATFORM_NAME,
            domain=urlsplit(_absolute(request, "/")).netloc,
        )
        super().send_mail(template_prefix, email, context)

    def _get_login_attempts_cache_key(self, request, **credentials):
        # allauth keys the failed-login budget by the raw Host header, so every
        # spelling of a portal's host (case, port, custom domain or slug) would
        # get a fresh budget. Key it by the tenant instead. (A private allauth
        # hook: re-check it when upgrading allauth.)
        agency = getattr(request, "agency", None)
        login = credentials.get("email", credentials.get("username", "")).lower()
        return f"{f'agency-{agency.pk}' if agency else 'console'}:{login}"

    def format_email_subject(self, subject):
        agency = getattr(self.request, "agency", None)
        return f"[{agency.company_name if agency else settings.PLATFORM_NAME}] {subject}"

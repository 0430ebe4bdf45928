from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Case, F, Value, When
from django.http import HttpRequest

from . import mfa
from .models import User


class PortalBackend(ModelBackend):
    """Email + password login, scoped to the host the request came in on."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        email: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = email or username
        if request is None or not email or password is None:
            return None
        agency = getattr(request, "agency", None)
        try:
            user = User.objects.get(email__iexact=email.strip(), agency=agency)
        except User.DoesNotExist:
            # Run the hasher anyway so timing does not reveal which emails exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id: Any) -> User | None:
        # Every request loads its session's user here; the agency's two-factor requirement comes along in
        # the same query, so enforcing it (agencies.middleware.MFARequiredMiddleware) costs none.
        required = Case(
            When(agency__isnull=False, then=F("agency__mfa_required_clients")),
            When(managed_agency__isnull=False, then=F("managed_agency__mfa_required_members")),
            default=Value(False),
        )
        try:
            user = User._default_manager.annotate(**{mfa.REQUIRED_ATTR: required}).get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

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

from django.contrib.auth.backends import ModelBackend

from .models import User


class PortalBackend(ModelBackend):
    """Email + password login, scoped to the host the request came in on."""

    def authenticate(self, request, email=None, password=None, username=None, **kwargs):
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

"""allauth's account views, where the portal needs more than its adapter and forms give."""

from allauth.account import views as allauth_views
from django.db import IntegrityError

from .forms import EMAIL_TAKEN
from .models import User


class SignupView(allauth_views.SignupView):
    """Sign-up that answers a lost race for an email with the form's usual error.

    The form checks that the email is free on this host; two sign-ups with the
    same email at the same instant both pass that check, and the database's
    unique constraint refuses the second. Its user then sees the same message
    as if the other had finished first, and nothing of it was written
    (the adapter saves the account and its organization in one transaction).
    """

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except IntegrityError:
            email = form.cleaned_data.get("email") or ""
            if not User.objects.filter(email__iexact=email, agency=getattr(self.request, "agency", None)).exists():
                raise  # some other constraint: not the race this is for
            form.add_error("email", EMAIL_TAKEN)
            return self.form_invalid(form)


signup = SignupView.as_view()

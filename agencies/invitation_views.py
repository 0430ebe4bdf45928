"""Invitation pages: an owner's invite form and open invitations (console and portal), and the link's page.

The link's page answers on the invitation's own host only; anywhere else it is the same "not valid"
page an unknown link gets, so a link tells nothing about other tenants.
"""

from allauth.account.utils import perform_login
from django import forms
from django.contrib import messages
from django.contrib.auth import password_validation
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import access, invitations as services
from .invitation_models import Invitation
from .models import Agency, Organization, Role, User


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address")
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args, organization: Organization | None, **kwargs):
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        offered = services.roles_for(organization=organization)
        role.choices = [(r, Role(r).label) for r in offered]
        role.initial = offered[-1]  # the least powerful (viewer, member): an owner picks more on purpose


class AcceptForm(forms.Form):
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Password (again)", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second:
            if first != second:
                self.add_error("password2", "The two passwords differ.")
            else:
                try:
                    password_validation.validate_password(first, User(email=self.email))
                except forms.ValidationError as error:
                    self.add_error("password1", error)
        return data


def _tenant(request) -> tuple[Agency, Organization | None]:
    """The tenant whose invitations the logged-in owner manages: its agency (console) or organization (portal)."""
    if request.agency is None:
        agency = access.agency_or_404(request, capability="members")
        return agency, None
    organization = access.organization_or_404(request, capability="members")
    return request.agency, organization


def _template(request) -> str:
    return "console/invitations.html" if request.agency is None else "portal/invitations.html"


@login_required
def invitations(request):
    """The invite form and the open invitations."""
    agency, organization = _tenant(request)
    form = InviteForm(request.POST or None, organization=organization)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    actor=request.user, agency=agency, organization=organization, **form.cleaned_data
                )
            except services.InvitationError as error:
                form.add_error("email", str(error))
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect(request.path)
        status = 400
    pending = services.invitations_open(agency=agency, organization=organization)
    context = {"form": form, "pending": pending, "tenant": organization or agency}
    return render(request, _template(request), context, status=status)


def _invitation_or_404(request, invitation_id: int) -> Invitation:
    agency, organization = _tenant(request)
    return get_object_or_404(Invitation, pk=invitation_id, agency=agency, organization=organization)


@login_required
@require_POST
def invitation_resend(request, invitation_id: int):
    invitation = _invitation_or_404(request, invitation_id)
    try:
        services.invitation_resend(actor=request.user, invitation=invitation)
    except services.InvitationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"A new link was sent to {invitation.email}; the old one no longer works.")
    return redirect(_list_url(request))


@login_required
@require_POST
def invitation_revoke(request, invitation_id: int):
    invitation = _invitation_or_404(request, invitation_id)
    if services.invitation_revoke(actor=request.user, invitation=invitation):
        messages.success(request, f"The invitation to {invitation.email} was revoked.")
    else:
        messages.error(request, "This invitation was already accepted or revoked.")
    return redirect(_list_url(request))


def _list_url(request) -> str:
    return reverse("console:invitations" if request.agency is None else "invitations:list")


def _page(request, template: str, context: dict, status: int = 200):
    response = render(request, f"portal/invitations_{template}.html", context, status=status)
    # The address holds the token: never hand it on to another origin (a logo loads from one). Same-origin
    # requests keep their Referer and Origin, which the form's CSRF check needs ("no-referrer" sends Origin: null).
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
def invitation_accept(request, token: str):
    """The link's page: sign up, log in or accept, as the visitor's situation calls for."""
    try:
        invitation = services.invitation_find(token=token, agency=request.agency)
        services.invitation_check_open(invitation)
    except services.InvitationNotFound as error:
        return _page(request, "closed", {"message": str(error), "heading": "Invitation not found"}, status=404)
    except services.InvitationClosed as error:
        return _page(request, "closed", {"message": str(error), "heading": _CLOSED[error.status]}, status=410)

    user = request.user if request.user.is_authenticated else None
    step, message = services.invitation_standing(invitation=invitation, user=user)
    form = AcceptForm(request.POST or None, email=invitation.email) if step == "sign_up" else None
    context = {"invitation": invitation, "step": step, "message": message, "form": form}
    if step == "log_in":
        context["login_url"] = reverse("account_login") + "?" + urlencode({"next": request.path})
    if request.method != "POST" or step in ("refused", "log_in") or (form is not None and not form.is_valid()):
        status = 403 if step == "refused" else 400 if request.method == "POST" else 200
        return _page(request, "accept", context, status=status)

    try:
        member = services.invitation_accept(
            token=token, agency=request.agency, user=user, password=form.cleaned_data["password1"] if form else ""
        )
    except services.InvitationClosed as error:  # lost a race with another accept (a double click)
        return _page(request, "closed", {"message": str(error), "heading": _CLOSED[error.status]}, status=410)
    except services.InvitationError as error:
        return _page(request, "accept", {**context, "step": "refused", "message": str(error)}, status=403)
    messages.success(request, f"Welcome to {invitation.tenant_name}.")
    if user is not None:
        return redirect("home")
    return perform_login(request, member, redirect_url=reverse("home"))


_CLOSED: dict[str, str] = {
    Invitation.Status.EXPIRED: "Invitation expired",
    Invitation.Status.ACCEPTED: "Invitation already used",
    Invitation.Status.REVOKED: "Invitation withdrawn",
}

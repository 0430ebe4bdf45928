"""The console's Security page: the agency's sign-in requirements, and the viewer's own two-factor sign-in."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from . import access, mfa, roles
from .forms import SecurityForm


@login_required
def security(request):
    agency = access.agency_or_404(request, write="security")  # everyone sees them; only an owner changes them
    initial = {field: getattr(agency, field) for field in mfa.REQUIREMENT_FIELDS}
    form = SecurityForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            mfa.agency_mfa_require(
                agency=agency,
                actor=request.user,
                members=form.cleaned_data["mfa_required_members"],
                clients=form.cleaned_data["mfa_required_clients"],
            )
            messages.success(request, "Sign-in requirements saved.")
            return redirect("console:security")
    context = {
        "agency": agency,
        "form": form,
        "can_change": roles.can(request.user, "security"),
        "coverage": mfa.mfa_coverage(agency=agency),
        "mfa_enabled": mfa.mfa_enabled(user=request.user),
    }
    return render(request, "console/security.html", context, status=400 if form.errors else 200)

"""Console views of Stripe Connect: connect, onboard, disconnect; the agency's own connection only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies import access, tenancy

from . import accounts, connect, connect_standin, provisioning, stripe_api
from .portal_views import HttpResponseSeeOther

UNAVAILABLE = "Stripe could not be reached. Nothing was changed; try again in a few minutes."


def _console_url(name: str) -> str:
    return tenancy.console_url(reverse(name))


def _back():
    return redirect("stripe_setup:stripe")


def _provision(request, agency) -> None:
    """Once connected with charges enabled, put the product and the packages' prices on the account."""
    if not (accounts.is_connected(agency) and agency.stripe_charges_enabled):
        return
    try:
        report = provisioning.stripe_provision(agency=agency, actor=request.user)
    except provisioning.ProvisionError as exc:
        messages.warning(request, f"Connected, but the packages could not be set up on Stripe yet: {exc}")
        return
    messages.info(request, " ".join(report.sentences()))


def _available_agency_or_404(request):
    agency = access.agency_or_404(request, capability="stripe")
    if not connect.is_available():
        raise Http404("Stripe Connect is not configured")
    return agency


@login_required
@require_POST
def connect_start(request):
    """Send the admin to Stripe to authorize the platform on an existing account."""
    agency = _available_agency_or_404(request)
    if accounts.is_connected(agency):
        messages.info(request, "A Stripe account is already connected. Disconnect it first to connect another.")
        return _back()
    url = connect.oauth_start(
        session=request.session,
        agency=agency,
        user=request.user,
        redirect_uri=_console_url("console_billing:connect_return"),
    )
    return HttpResponseSeeOther(url)


@never_cache
@login_required
def connect_return(request):
    """Where Stripe sends the admin back after OAuth: check the state, then exchange the code."""
    agency = _available_agency_or_404(request)
    problem = connect.state_problem(
        session=request.session, state=request.GET.get("state", ""), agency=agency, user=request.user
    )
    if problem:
        messages.error(request, problem)
        return _back()
    if request.GET.get("error"):
        if request.GET["error"] == "access_denied":
            messages.info(request, "You cancelled connecting your Stripe account. Nothing was changed.")
        else:
            messages.error(request, "Stripe did not connect the account. Nothing was changed; try again.")
        return _back()
    if not request.GET.get("code"):
        messages.error(request, "Stripe sent no authorization. Nothing was changed; try again.")
        return _back()
    try:
        agency = connect.oauth_finish(agency=agency, code=request.GET["code"], actor=request.user)
    except connect.ConnectRefused as exc:
        messages.error(request, str(exc))
        return _back()
    except stripe_api.StripeUnavailable:
        messages.error(request, UNAVAILABLE)
        return _back()
    messages.success(request, connect.connection_state(agency).words)
    _provision(request, agency)
    return _back()


@login_required
@require_POST
def connect_create(request):
    """Create a Stripe account for an agency that has none, then send the admin to Stripe's onboarding."""
    agency = _available_agency_or_404(request)
    if accounts.is_connected(agency):
        messages.info(request, "A Stripe account is already connected.")
        return _back()
    try:
        agency = connect.account_create_for(agency=agency, email=request.user.email, actor=request.user)
        return HttpResponseSeeOther(_onboarding_url(agency))
    except connect.ConnectRefused as exc:
        messages.error(request, str(exc))
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        messages.error(request, UNAVAILABLE)
    return _back()


def _onboarding_url(agency) -> str:
    return connect.onboarding_link(
        agency=agency,
        refresh_url=_console_url("console_billing:connect_onboarding_refresh"),
        return_url=_console_url("console_billing:connect_onboarding_return"),
    )


def _onboarding_redirect(request):
    agency = _available_agency_or_404(request)
    if not accounts.is_connected(agency):
        messages.error(request, "No Stripe account is connected.")
        return _back()
    try:
        return HttpResponseSeeOther(_onboarding_url(agency))
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        messages.error(request, UNAVAILABLE)
        return _back()


@login_required
@require_POST
def connect_onboarding(request):
    """Continue Stripe's onboarding (the Stripe page's button)."""
    return _onboarding_redirect(request)


@never_cache
@login_required
def connect_onboarding_refresh(request):
    """Stripe's refresh_url: the link expired or was used; mint a new one."""
    return _onboarding_redirect(request)


@never_cache
@login_required
def connect_onboarding_return(request):
    """Stripe's return_url: read the account and say what Stripe still needs (returning is not success)."""
    agency = _available_agency_or_404(request)
    try:
        agency = connect.account_refresh(agency=agency)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        messages.error(request, UNAVAILABLE)
        return _back()
    state = connect.connection_state(agency)
    (messages.success if state.state == "connected" and state.charges_enabled else messages.warning)(
        request, state.words
    )
    _provision(request, agency)
    return _back()


@login_required
@require_POST
def connect_disconnect(request):
    agency = access.agency_or_404(request, capability="stripe")
    if not accounts.is_connected(agency):
        return _back()
    name = connect.connection_state(agency).account_name
    if connect.agency_disconnect(agency=agency, actor=request.user):
        messages.success(
            request, f"Disconnected from \u201c{name}\u201d. Clients cannot buy credits until Stripe is set up again."
        )
    else:
        messages.warning(
            request,
            f"Disconnected from \u201c{name}\u201d here; Stripe could not be told. "
            "Remove the platform from your Stripe dashboard (Settings → Connected apps) too.",
        )
    return _back()


@login_required
@require_POST
def connect_test_account(request):
    """Development only (the stand-in): connect a ready-made test account in one click."""
    agency = _available_agency_or_404(request)
    if not connect_standin.standin_available():
        raise Http404("Not on the Stripe stand-in")
    if accounts.is_connected(agency):
        messages.info(request, "A Stripe account is already connected.")
        return _back()
    try:
        agency = connect_standin.test_account_connect(agency=agency, actor=request.user)
    except connect.ConnectRefused as exc:
        messages.error(request, str(exc))
        return _back()
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        messages.error(request, UNAVAILABLE)
        return _back()
    messages.success(request, connect.connection_state(agency).words)
    _provision(request, agency)
    return _back()

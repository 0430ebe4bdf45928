"""The agency console: an agency admin configures and runs its portal."""

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import access, domains, selectors, services, tenancy
from .forms import BrandingForm, DomainForm, PackageForm
from .margin import margin_for
from .models import Agency, CreditPackage


def home(request):
    if request.user.is_authenticated and request.user.managed_agency_id:
        return redirect("console:dashboard")
    return render(request, "console/landing.html")


@login_required
def dashboard(request):
    from usage import selectors as usage_selectors  # usage builds on agencies; imported where it is used

    agency = access.agency_or_404(request)
    return render(
        request,
        "console/dashboard.html",
        {
            "agency": agency,
            "missing": services.activation_missing(agency),
            "portal_url": tenancy.portal_url(agency) if agency.slug else None,
            "client_count": agency.organizations.count(),
            "minutes": usage_selectors.agency_balance(agency=agency),
            "minutes_this_month": usage_selectors.monthly_usage_minutes(agency=agency),
        },
    )


@login_required
def branding(request):
    agency = access.agency_or_404(request)
    # The form edits a copy, so a rejected value never leaks into the page chrome.
    form = BrandingForm(request.POST or None, instance=Agency.objects.get(pk=agency.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.agency_update_branding(agency=agency, data=form.cleaned_data)
        except services.SlugTaken:
            agency = Agency.objects.get(pk=agency.pk)  # the failed save must not dress the page
            form.add_error("slug", "This slug is already taken.")
        else:
            messages.success(request, "Branding saved.")
            return redirect("console:branding")
    context = {"form": form, "agency": agency, "base_domain": settings.PORTAL_BASE_DOMAIN}
    return render(request, "console/branding.html", context, status=400 if form.errors else 200)


def _domain_page(request, agency, form, status=200):
    return render(
        request,
        "console/domain.html",
        {
            "agency": agency,
            "form": form,
            "cname_target": settings.PORTAL_CNAME_TARGET,
            "txt_name": domains.txt_name(agency.custom_domain) if agency.custom_domain else "",
        },
        status=status,
    )


@login_required
def domain(request):
    agency = access.agency_or_404(request)
    if request.method == "POST":
        form = DomainForm(request.POST, agency=agency)
        if not form.is_valid():
            return _domain_page(request, agency, form, status=400)
        new = form.cleaned_data["custom_domain"]
        services.agency_set_domain(agency=agency, domain=new)
        messages.success(
            request, f"Custom domain set to {new}. Add the DNS records below." if new else "Custom domain removed."
        )
        return redirect("console:domain")
    return _domain_page(request, agency, DomainForm(agency=agency, initial={"custom_domain": agency.custom_domain}))


@login_required
@require_POST
def domain_refresh(request):
    agency = access.agency_or_404(request)
    if not agency.custom_domain:
        messages.error(request, "Add a custom domain first.")
        return redirect("console:domain")
    agency = services.agency_check_domain(agency=agency)
    if agency.domain_verified:
        messages.success(request, f"{agency.custom_domain} is verified.")
    else:
        messages.error(request, f"{agency.custom_domain} is not verified yet: {agency.domain_check_message}")
    return redirect("console:domain")


def _package_or_404(request, package_id) -> CreditPackage:
    agency = access.agency_or_404(request)
    return get_object_or_404(CreditPackage.objects.current(), pk=package_id, agency=agency)


@login_required
def packages(request):
    from invoices import selectors as invoice_selectors  # the VAT in a price is the invoices' rule (a layer up)

    agency = access.agency_or_404(request)
    form = PackageForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            services.package_create(
                agency=agency,
                credits=form.cleaned_data["credits"],
                price_cents=form.cleaned_data["price"],
                currency=form.cleaned_data["currency"],
            )
            messages.success(request, "Package added.")
            return redirect("console:packages")
    estimate = invoice_selectors.price_vat_estimate(agency=agency)
    margins = []
    for package in agency.packages.current():
        amounts = estimate.amounts(package.price_cents)
        margins.append(margin_for(package, net_cents=amounts.net, gross_cents=amounts.gross))
    context = {
        "agency": agency,
        "form": form,
        "margins": margins,
        "vat": estimate,
        "minute_price_cents": settings.PLATFORM_MINUTE_PRICE_CENTS,
        "platform_currency": settings.PLATFORM_CURRENCY,
    }
    return render(request, "console/packages.html", context, status=400 if form.errors else 200)


@login_required
def package_edit(request, package_id):
    package = _package_or_404(request, package_id)
    initial = {"credits": package.credits, "price": Decimal(package.price_cents) / 100, "currency": package.currency}
    form = PackageForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.package_update(
            package=package,
            credits=form.cleaned_data["credits"],
            price_cents=form.cleaned_data["price"],
            currency=form.cleaned_data["currency"],
        )
        messages.success(request, f"Package saved: clients now see {form.cleaned_data['credits']:,} credits.")
        return redirect("console:packages")
    return render(
        request, "console/package_edit.html", {"package": package, "form": form}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def package_visibility(request, package_id):
    package = _package_or_404(request, package_id)
    hidden = request.POST.get("hidden") == "1"
    services.package_hide(package=package, hidden=hidden)
    messages.success(request, f"{package} {'hidden: clients no longer see it' if hidden else 'is on sale again'}.")
    return redirect("console:packages")


@login_required
@require_POST
def package_move(request, package_id):
    package = _package_or_404(request, package_id)
    services.package_move(package=package, up=request.POST.get("direction") != "down")
    return redirect("console:packages")


@login_required
def package_delete(request, package_id):
    package = _package_or_404(request, package_id)
    if request.method != "POST":
        # Removing is for good (unlike hiding): say what clients lose before doing it.
        return render(request, "console/package_delete.html", {"package": package})
    if services.package_remove(package=package):
        messages.success(request, "Package removed.")
    else:
        messages.success(request, "Package taken off sale. Its past purchases and invoices keep it.")
    return redirect("console:packages")


@login_required
def users(request):
    from usage import selectors as usage_selectors  # usage builds on agencies; imported where it is used

    agency = access.agency_or_404(request)
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.client_users(agency=agency, email_query=query), 50).get_page(request.GET.get("page"))
    organizations = [user.organization for user in page if user.organization is not None]
    balances = usage_selectors.organization_balances(organizations=organizations)
    rows = [(user, balances[user.organization_id]) for user in page if user.organization_id is not None]
    return render(request, "console/users.html", {"agency": agency, "page": page, "rows": rows, "query": query})

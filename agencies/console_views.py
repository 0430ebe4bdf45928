"""The agency console: an agency admin configures and runs its portal."""

import re
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core import contrast
from core.csv_export import csv_response

from . import access, domains, selectors, services, tenancy
from .forms import BrandingForm, DomainForm, PackageForm
from .margin import margin_for
from .models import Agency, CreditPackage

COLOR_RE = re.compile(r"#[0-9A-Fa-f]{6}")


def home(request):
    if request.user.is_authenticated and request.user.managed_agency_id:
        return redirect("console:dashboard")
    return render(request, "console/landing.html")


@login_required
def dashboard(request):
    # The overview gathers what the higher layers know (each import listed in pyproject's layers contract).
    from billing import readiness
    from usage import selectors as usage_selectors

    agency = access.agency_or_404(request)
    return render(
        request,
        "console/dashboard.html",
        {
            "agency": agency,
            "readiness": readiness.readiness(agency),
            "coverage": usage_selectors.minutes_coverage(agency=agency),
            "portal_url": tenancy.portal_url(agency) if agency.slug else None,
            "client_count": agency.organizations.count(),
            "minutes": usage_selectors.agency_balance(agency=agency),
            "minutes_this_month": usage_selectors.monthly_usage_minutes(agency=agency),
        },
    )


def _preview(form, agency) -> dict:
    """The portal preview's colours, as the portal would draw them (agencies.context_processors)."""

    def colour(name: str, saved: str) -> str:
        value = str(form[name].value() or "")
        return value.upper() if COLOR_RE.fullmatch(value) else saved

    primary = colour("primary_color", agency.primary_color)
    accent = colour("accent_color", agency.accent_color)
    return {
        "primary": primary,
        "accent": accent,
        "on_primary": contrast.readable_text_on(primary),
        "on_accent": contrast.readable_text_on(accent),
        "primary_text": contrast.text_on_white(primary),
        "ratio": round(contrast.contrast_ratio(primary, contrast.WHITE), 2),
        "low_contrast": contrast.contrast_ratio(primary, contrast.WHITE) < contrast.AA_NORMAL_TEXT,
    }


@login_required
def branding(request):
    agency = access.agency_or_404(request, write="branding")
    # The form edits a copy, so a rejected value never leaks into the page chrome.
    form = BrandingForm(request.POST or None, instance=Agency.objects.get(pk=agency.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.agency_update_branding(agency=agency, data=form.cleaned_data, actor=request.user)
        except services.SlugTaken:
            agency = Agency.objects.get(pk=agency.pk)  # the failed save must not dress the page
            form.add_error("slug", "This slug is already taken.")
        else:
            messages.success(request, "Branding saved.")
            return redirect("console:branding")
    context = {
        "form": form,
        "agency": agency,
        "portal_url": tenancy.portal_url(agency) if agency.slug else None,
        "url_pattern": tenancy.slug_url("your-slug"),
        "preview": _preview(form, agency),
    }
    return render(request, "console/branding.html", context, status=400 if form.errors else 200)


def _domain_page(request, agency, form, status=200):
    domain = agency.custom_domain or ""
    txt_name = domains.txt_name(domain) if domain else ""
    label, badge = domains.status_shown(
        verified=agency.domain_verified, status=agency.domain_status, message=agency.domain_check_message
    )
    return render(
        request,
        "console/domain.html",
        {
            "agency": agency,
            "form": form,
            "cname_target": settings.PORTAL_CNAME_TARGET,
            "txt_name": txt_name,
            "cname_host": domains.host_only(domain, domain) if domain else "",
            "txt_host": domains.host_only(txt_name, domain) if domain else "",
            "status_label": label,
            "status_badge": badge,
        },
        status=status,
    )


@login_required
def domain(request):
    agency = access.agency_or_404(request, write="branding")
    if request.method == "POST":
        form = DomainForm(request.POST, agency=agency)
        if not form.is_valid():
            return _domain_page(request, agency, form, status=400)
        new = form.cleaned_data["custom_domain"]
        services.agency_set_domain(agency=agency, domain=new, actor=request.user)
        messages.success(
            request, f"Custom domain set to {new}. Add the DNS records below." if new else "Custom domain removed."
        )
        return redirect("console:domain")
    return _domain_page(request, agency, DomainForm(agency=agency, initial={"custom_domain": agency.custom_domain}))


@login_required
@require_POST
def domain_refresh(request):
    agency = access.agency_or_404(request, capability="branding")
    if not agency.custom_domain:
        messages.error(request, "Add a custom domain first.")
        return redirect("console:domain")
    agency = services.agency_check_domain(agency=agency)
    if agency.domain_verified:
        messages.success(request, f"{agency.custom_domain} is verified.")
    else:
        # The page shows what the check found, once, beside the records.
        messages.info(request, f"Checked {agency.custom_domain}: not verified yet.")
    return redirect("console:domain")


def _package_or_404(request, package_id) -> CreditPackage:
    agency = access.agency_or_404(request, capability="packages")
    return get_object_or_404(CreditPackage.objects.current(), pk=package_id, agency=agency)


@login_required
def packages(request):
    from invoices import selectors as invoice_selectors  # the VAT in a price is the invoices' rule (a layer up)

    agency = access.agency_or_404(request, write="packages")
    form = PackageForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            services.package_create(
                agency=agency,
                credits=form.cleaned_data["credits"],
                price_cents=form.cleaned_data["price"],
                currency=form.cleaned_data["currency"],
                actor=request.user,
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
            actor=request.user,
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
    services.package_hide(package=package, hidden=hidden, actor=request.user)
    messages.success(request, f"{package} {'hidden: clients no longer see it' if hidden else 'is on sale again'}.")
    return redirect("console:packages")


@login_required
@require_POST
def package_move(request, package_id):
    package = _package_or_404(request, package_id)
    services.package_move(package=package, up=request.POST.get("direction") != "down", actor=request.user)
    return redirect("console:packages")


@login_required
def package_delete(request, package_id):
    package = _package_or_404(request, package_id)
    if request.method != "POST":
        # Removing is for good (unlike hiding): say what clients lose before doing it.
        return render(request, "console/package_delete.html", {"package": package})
    if services.package_remove(package=package, actor=request.user):
        messages.success(request, "Package removed.")
    else:
        messages.success(request, "Package taken off sale. Its past purchases and invoices keep it.")
    return redirect("console:packages")


CLIENTS_CSV_HEADER = ["email", "organization", "credits_balance", "low_balance_threshold", "joined"]


@login_required
def users_csv(request):
    """The clients the Users page lists for the same search, all pages, as CSV."""
    agency = access.agency_or_404(request, capability="exports")
    users = selectors.client_users(agency=agency, email_query=request.GET.get("q", "").strip())
    rows = (
        (user.email, org.name, org.credits_balance, org.low_balance_threshold, user.date_joined)
        for user in users.iterator(chunk_size=500)
        if (org := user.organization) is not None  # client_users has only users with one
    )
    return csv_response(filename=f"clients-{agency.slug}.csv", header=CLIENTS_CSV_HEADER, rows=rows)


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

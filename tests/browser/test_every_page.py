"""axe-core on every console and portal page, logged in and out, at desktop and phone widths.

The pages come from the URLconfs: `test_every_url_is_walked_or_said_why_not` fails when a URL is added
that is neither in PAGES nor in NOT_PAGES, so a new page cannot slip past the check. One browser per
walk, a seeded agency with a paying client, so each page shows data rather than its empty state.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from playwright.sync_api import expect

from agencies.invitations import invitation_create
from billing import ledger
from ops import alerts
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE, axe_problems
from tests.browser.signing_in import log_in
from tests.conftest import NOON
from tests.invoices.conftest import billing_set, paid, seller_set
from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_standin  # noqa: F401
from usage.ingest import usage_ingest
from usage.keys import api_key_create

pytestmark = [pytest.mark.browser, pytest.mark.now(NOON)]

CONSOLE, PORTAL = "portal.urls_console", "portal.urls_portal"


@dataclass(frozen=True)
class Page:
    name: str
    kwargs: tuple[str, ...] = ()  # keys of the seeded shop that fill the URL's arguments
    query: str = ""
    screenshot: str = ""  # written to test-results/ when set: the main pages, for a person to look at


# Who sees what: (URLconf, logged in as) -> pages.
PAGES: dict[tuple[str, str], list[Page]] = {
    (CONSOLE, "anonymous"): [
        Page("home", screenshot="console-landing"),
        Page("account_login"),
        Page("account_signup"),
        Page("account_reset_password"),
        Page("account_reset_password_done"),
    ],
    (CONSOLE, "agency"): [
        Page("console:dashboard", screenshot="console-overview"),
        Page("ops_console:business"),
        Page("console:branding", screenshot="console-branding"),
        Page("console:domain"),
        Page("stripe_setup:stripe"),
        Page("console:packages", screenshot="console-packages"),
        Page("console:users", screenshot="console-users"),
        Page("console:invitations"),
        Page("console_billing:allocate", ("org_id",)),
        Page("ops_console:client", ("org_id",), screenshot="console-client"),
        Page("console:package_edit", ("package_id",)),
        Page("usage_console:keys"),
        Page("console_billing:purchases", screenshot="console-purchases"),
        Page("console_billing:purchase", ("purchase_id",), screenshot="console-purchase"),
        Page("console_invoices:documents", screenshot="console-invoices"),
        Page("console_invoices:seller"),
        Page("console_invoices:billing"),
        Page("console_billing:minutes"),
        Page("console_billing:auto_reload"),
        Page("console_billing:topup"),
        Page("console_billing:payment_methods"),
        Page("console_billing:topup_rate"),
        Page("ops_console:alerts"),
        Page("ops_console:usage_source"),
        Page("console:members"),
        Page("console:audit", screenshot="console-audit"),
        Page("console:security", screenshot="console-security"),
        Page("account_email"),
        Page("account_change_password"),
        Page("mfa_index"),
        Page("mfa_list_webauthn"),
    ],
    (PORTAL, "anonymous"): [
        Page("home", screenshot="portal-landing"),
        Page("account_login", screenshot="portal-login"),
        Page("account_signup"),
        Page("account_reset_password"),
        Page("account_reset_password_done"),
    ],
    (PORTAL, "client"): [
        Page("home", screenshot="portal-dashboard"),
        Page("billing:home", screenshot="portal-billing"),
        Page("billing:buy", screenshot="portal-buy"),
        Page("billing:auto_reload"),
        Page("billing:success", query="session_id={session_id}"),
        Page("billing:cancelled", ("reference",)),
        Page("billing:topup"),
        Page("billing:payment_methods"),
        Page("invoices:settings", screenshot="portal-invoices"),
        Page("usage:usage", screenshot="portal-usage"),
        Page("usage:keys"),
        Page("ops_portal:usage_report"),
        Page("ops_portal:alerts"),
        Page("portal_members:members"),
        Page("agencies_portal:audit"),
        Page("invitations:list"),
        Page("account_email"),
        Page("account_change_password"),
        Page("mfa_index"),
        Page("mfa_list_webauthn"),
    ],
}

# URLs that are not pages a person reads, or are read elsewhere; each says why.
NOT_PAGES = {
    "account_logout": "POST; GET asks to confirm and is the allauth page all others share",
    "account_inactive": "allauth's, reached only by a deactivated user",
    "account_reauthenticate": "allauth's, reached only from a sensitive action",
    "account_email_verification_sent": "allauth's, verification is off",
    "account_set_password": "redirects: every user here has a password",
    "account_confirm_login_code": "allauth's, login codes are off",
    "account_confirm_email": "a key from an email",
    "account_reset_password_from_key": "a key from an email",
    "account_reset_password_from_key_done": "after a key from an email",
    "console_billing:purchase_refund": "POST",
    "console_billing:minutes_success": "platform Stripe return: checked in test_dashboards",
    "console_billing:minutes_cancelled": "platform Stripe return, same page as minutes_success",
    "console_billing:connect_start": "redirect to Stripe",
    "console_billing:connect_return": "redirect back from Stripe",
    "console_billing:connect_create": "POST",
    "console_billing:connect_onboarding": "redirect to Stripe",
    "console_billing:connect_onboarding_refresh": "redirect to Stripe",
    "console_billing:connect_onboarding_return": "redirect back from Stripe",
    "console_billing:connect_disconnect": "POST",
    "console_billing:connect_test_account": "POST",
    "console_invoices:invoice_pdf": "PDF",
    "console_invoices:credit_note_pdf": "PDF",
    "invoices:invoice_pdf": "PDF",
    "invoices:credit_note_pdf": "PDF",
    "ops_console:alerts_secret": "POST",
    "ops_console:usage_source_sync": "POST",
    "ops_console:usage_source_delete": "POST",
    "stripe_setup:check": "POST",
    "stripe_setup:repair": "POST",
    "stripe_setup:activation": "POST",
    "console:domain_refresh": "POST",
    "console:package_delete": "POST",
    "usage_console:key_revoke": "POST",
    "usage:key_revoke": "POST",
    "billing:buy_package": "POST, to Stripe Checkout",
    "billing:payment_method_add": "POST, to Stripe's setup-mode Checkout",
    "billing:payment_method_remove": "POST; its confirm page is core.confirm's, checked in test_topup_pages",
    "billing:payment_method_default": "POST",
    "console_billing:payment_method_add": "POST, to Stripe's setup-mode Checkout",
    "console_billing:payment_method_remove": "POST; its confirm page is core.confirm's",
    "console_billing:payment_method_default": "POST",
    "ops_portal:usage_report_csv": "CSV",
    "ops_portal:usage_report_chart": "an SVG image in the usage report's page (loaded in test_dashboards)",
    "ops_console:business_chart": "an SVG image in the business page (loaded in test_dashboards)",
    "ops_console:client_chart": "an SVG image in the client's page",
    "ops_portal:alerts_secret": "POST",
    "tls_allowed": "text for the TLS front end",
    "console:package_move": "POST",
    "console:package_visibility": "POST",
    "console:users_csv": "CSV",
    "console:audit_csv": "CSV",
    "console_billing:purchases_csv": "CSV",
    "console_invoices:documents_csv": "CSV",
    "ops_console:alerts_retry": "POST",
    "ops_console:alerts_test": "POST",
    "ops_console:client_notes": "POST",
    "ops_console:client_resume": "POST",
    "ops_console:client_suspend": "POST",
    "ops_console:notifications": "POST",
    "ops_portal:alerts_retry": "POST",
    "ops_portal:alerts_test": "POST",
    "favicon": "redirect to an image",
    "console:member_role": "POST",
    "console:member_remove": "POST; its confirm page is core.confirm's",
    "console:member_transfer": "POST; its confirm page is core.confirm's",
    "portal_members:member_role": "POST",
    "portal_members:member_remove": "POST; its confirm page is core.confirm's",
    "portal_members:member_transfer": "POST; its confirm page is core.confirm's",
    "console:invitation_resend": "POST",
    "console:invitation_revoke": "POST",
    "invitations:resend": "POST",
    "invitations:revoke": "POST",
    "invitation_accept": "a key from an email; its pages are checked in test_invitations_browser",
    "mfa_activate_totp": "asks for the password again first; walked with axe in test_mfa_browser",
    "mfa_view_recovery_codes": "only once two-factor is on; walked with axe in test_mfa_browser",
    "mfa_authenticate": "only mid-login with two-factor on; walked with axe in test_mfa_browser",
    "mfa_reauthenticate": "allauth's, reached only from a sensitive action with two-factor on",
    "mfa_deactivate_totp": "redirects unless two-factor is on; asks for a code first",
    "mfa_generate_recovery_codes": "redirects unless two-factor is on; asks for a code first",
    "mfa_download_recovery_codes": "a text file",
    "mfa_add_webauthn": "asks for the password again first; walked with axe in test_webauthn_browser",
    "mfa_edit_webauthn": "a key's, once one is added; walked with axe in test_webauthn_browser",
    "mfa_remove_webauthn": "a key's, asks to confirm access first; walked with axe in test_webauthn_browser",
    "mfa_reauthenticate_webauthn": "only from a sensitive action with a key added; walked in test_webauthn_browser",
    "console:view_as": "POST, redirect to the portal: walked, bannered page and all, in test_view_as_browser",
    "view_as:redeem": "a one-minute, single-use token from the console: test_view_as_browser",
    "view_as:end": "POST",
}
NOT_PAGE_PREFIXES = ("admin/", "api/")  # Django's admin, the JSON API and webhooks


def _urls(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            route = prefix + str(pattern.pattern)
            if not route.startswith(NOT_PAGE_PREFIXES):
                yield from _urls(pattern.url_patterns, route, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and not (prefix + str(pattern.pattern)).startswith(NOT_PAGE_PREFIXES):
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_is_walked_or_said_why_not():
    for urlconf in (CONSOLE, PORTAL):
        walked = {page.name for (conf, _), pages in PAGES.items() if conf == urlconf for page in pages}
        missing = set(_urls(get_resolver(urlconf).url_patterns)) - walked - set(NOT_PAGES)
        assert not missing, f"{urlconf}: pages axe-core never sees; add them to PAGES (or NOT_PAGES, saying why)"


@pytest.fixture
def shop(transactional_db, live_server, settings, stripe_agency, make_client_user, client):  # noqa: F811
    """A live agency with seller details and minutes, and a client that bought, called and set alerts."""
    settings.PORTAL_PUBLIC_PORT = str(live_server.thread.port)
    agency = stripe_agency(slug="sunrise", company_name="Sunrise Calls")
    seller_set(agency)
    ledger.minutes_add(agency=agency, amount=5000, description="Opening balance", actor=None, reference="open")
    user = make_client_user(agency, email="anna@moonlight.example", company_name="Moonlight Bakery")
    billing_set(user.organization, country="NL", vat_id="")
    purchase = paid(client, agency, user)
    alerts.alert_settings_save(organization=user.organization, threshold=20, webhook_url="")
    api_key_create(name="Bakery phone line", organization=user.organization)
    api_key_create(name="Agency dialler", agency=agency)
    invitation_create(actor=agency.admin, agency=agency, email="carla@sunrise.example", role="admin")
    invitation_create(
        actor=user, agency=agency, organization=user.organization, email="ben@moonlight.example", role="billing"
    )
    now = timezone.now()
    usage_ingest(
        agency_id=agency.pk,
        records=[
            {
                "id": f"every-page-call-{n}",
                "organization_id": user.organization.pk,
                "duration_sec": (n % 5 + 1) * 60,
                "created_at": (now - timedelta(days=n % 20, minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "number_id": "number-1",
                "direction": "outbound",
            }
            for n in range(25)
        ],
    )
    return {
        "agency": agency,
        "client": user,
        "org_id": user.organization.pk,
        "purchase_id": purchase.pk,
        "package_id": agency.packages.order_by("pk").first().pk,
        "reference": purchase.reference,
        "session_id": purchase.stripe_session_id,
    }


def _log_in(page, base: str, email: str) -> None:
    log_in(page, base, email)
    expect(page.get_by_role("button", name="Log out")).to_be_attached()


@pytest.mark.parametrize(("urlconf", "who"), list(PAGES), ids=[f"{c.rsplit('_', 1)[1]}-{w}" for c, w in PAGES])
def test_every_page_passes_axe_at_desktop_and_phone_width(shop, live_server, new_page, urlconf, who):
    agency = shop["agency"]
    port = live_server.thread.port
    base = f"http://localhost:{port}" if urlconf == CONSOLE else f"http://{agency.slug}.localhost:{port}"
    page = new_page()
    if who != "anonymous":
        _log_in(page, base, agency.admin.email if who == "agency" else shop["client"].email)
    ARTIFACTS.mkdir(exist_ok=True)
    problems = []

    for spec in PAGES[(urlconf, who)]:
        path = reverse(spec.name, urlconf=urlconf, kwargs={key: shop[key] for key in spec.kwargs})
        query = spec.query.format(**shop)
        response = page.goto(f"{base}{path}" + (f"?{query}" if query else ""))
        assert response is not None and response.status == 200, f"{spec.name}: {response and response.status}"
        assert page.url.split("?")[0] == f"{base}{path}", f"{spec.name} redirected to {page.url}"
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            if spec.screenshot:
                page.screenshot(path=ARTIFACTS / f"{spec.screenshot}-{label}.png", full_page=True)
            problems += [f"{spec.name} at {label} width: {problem}" for problem in axe_problems(page)]
        page.set_viewport_size(DESKTOP)

    assert not problems, "axe-core found serious or critical WCAG A/AA violations:\n" + "\n".join(problems)

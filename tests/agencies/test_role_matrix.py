"""Every console and portal route by every role: allowed is never 403, refused is 403 and changes nothing.

The routes are read from the URLconfs themselves, so a new page fails here until it says which capability
(agencies.roles) reading it and posting to it need. Only the routes in SKIPPED are left out, each with why.
"""

import re

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from agencies.models import AGENCY_ROLES, ORGANIZATION_ROLES, CreditPackage, Organization, Role, User
from agencies.roles import AGENCY_CAPABILITIES, ORGANIZATION_CAPABILITIES
from tests.conftest import PASSWORD, host
from usage import keys

CONSOLE, PORTAL = "portal.urls_console", "portal.urls_portal"

# Route prefixes this matrix leaves out, and why.
SKIPPED = {
    CONSOLE: {
        "admin/": "Django admin: the operator's (staff accounts), not an agency's",
        "accounts/": "allauth: sign-in, sign-up, password reset (no tenant yet)",
        "api/v1/": "the API: API keys, not sessions (tests/usage)",
        "api/": "Stripe webhooks and the stand-in: signed by Stripe, no account",
        "internal/tls-allowed": "Caddy's TLS question: no account",
        "favicon.ico": "static: the tab icon",
    },
    PORTAL: {
        "accounts/": "allauth: sign-in, sign-up, password reset (no tenant yet)",
        "api/v1/": "the API: API keys, not sessions (tests/usage)",
        "internal/tls-allowed": "Caddy's TLS question: no account",
        "favicon.ico": "static: the tab icon",
    },
}

PUBLIC = "public"  # anyone, signed in or not
ANY = "view"
NO = None  # GET: the route is POST-only (405 for everyone); POST: the route takes no POST worth testing

# route name -> (what GET needs, what POST needs)
CONSOLE_ROUTES: dict[str, tuple[str | None, str | None]] = {
    "home": (PUBLIC, NO),
    "console:dashboard": (ANY, NO),
    "console:branding": (ANY, "branding"),
    "console:domain": (ANY, "branding"),
    "console:domain_refresh": (NO, "branding"),
    "console:packages": (ANY, "packages"),
    "console:package_delete": ("packages", "packages"),
    "console:package_edit": ("packages", "packages"),
    "console:package_visibility": (NO, "packages"),
    "console:package_move": (NO, "packages"),
    "console:users": (ANY, NO),
    "console:users_csv": ("exports", NO),
    "console:members": ("members", NO),
    "console:member_role": (NO, "members"),
    "console:member_remove": (NO, "members"),
    "console:member_transfer": (NO, "members"),
    "console:invitations": ("members", "members"),
    "console:invitation_resend": (NO, "members"),
    "console:invitation_revoke": (NO, "members"),
    "console:audit": ("audit", NO),
    "console:security": (ANY, "security"),
    "console:view_as": (NO, "view_as"),
    "console:audit_csv": ("audit", NO),
    "invitation_accept": (PUBLIC, PUBLIC),
    "console_billing:purchases": (ANY, NO),
    "console_billing:purchases_csv": ("exports", NO),
    "console_billing:purchase": (ANY, NO),
    "console_billing:purchase_refund": (NO, "billing"),
    "console_billing:allocate": (ANY, "clients"),
    "console_billing:minutes": (ANY, "billing"),
    "console_billing:minutes_success": ("billing", NO),
    "console_billing:minutes_cancelled": ("billing", NO),
    "console_billing:auto_reload": (ANY, "billing"),
    "console_billing:topup": ("billing", "billing"),
    "console_billing:topup_rate": (ANY, "packages"),
    "console_billing:payment_methods": ("billing", NO),
    "console_billing:payment_method_add": (NO, "billing"),
    "console_billing:payment_method_remove": (NO, "billing"),
    "console_billing:payment_method_default": (NO, "billing"),
    "console_billing:connect_start": (NO, "stripe"),
    "console_billing:connect_return": ("stripe", NO),
    "console_billing:connect_create": (NO, "stripe"),
    "console_billing:connect_onboarding": (NO, "stripe"),
    "console_billing:connect_onboarding_refresh": ("stripe", NO),
    "console_billing:connect_onboarding_return": ("stripe", NO),
    "console_billing:connect_disconnect": (NO, "stripe"),
    "console_billing:connect_test_account": (NO, "stripe"),
    "console_invoices:documents": (ANY, NO),
    "console_invoices:documents_csv": ("exports", NO),
    "console_invoices:seller": (ANY, "billing"),
    "console_invoices:billing": (ANY, "billing"),
    "console_invoices:invoice_pdf": (ANY, NO),
    "console_invoices:credit_note_pdf": (ANY, NO),
    "ops_console:business": (ANY, NO),
    "ops_console:business_chart": (ANY, NO),
    "ops_console:alerts": (ANY, "alerts"),
    "ops_console:alerts_secret": (NO, "alerts"),
    "ops_console:alerts_test": (NO, "alerts"),
    "ops_console:alerts_retry": (NO, "alerts"),
    "ops_console:notifications": (NO, "alerts"),
    "ops_console:client": (ANY, NO),
    "ops_console:client_chart": (ANY, NO),
    "ops_console:client_notes": (NO, "clients"),
    "ops_console:client_suspend": (NO, "clients"),
    "ops_console:client_resume": (NO, "clients"),
    "ops_console:usage_source": (ANY, "usage_sources"),
    "ops_console:usage_source_sync": (NO, "usage_sources"),
    "ops_console:usage_source_delete": (NO, "usage_sources"),
    "stripe_setup:stripe": ("stripe", "stripe"),
    "stripe_setup:check": (NO, "stripe"),
    "stripe_setup:repair": (NO, "stripe"),
    "stripe_setup:activation": (NO, "activation"),
    "usage_console:keys": (ANY, "usage_sources"),
    "usage_console:key_revoke": (NO, "usage_sources"),
}

PORTAL_ROUTES: dict[str, tuple[str | None, str | None]] = {
    "home": (ANY, NO),
    "invitation_accept": (PUBLIC, PUBLIC),
    "billing:home": ("invoices", NO),
    "billing:buy": ("buy", NO),
    "billing:buy_package": (NO, "buy"),
    "billing:success": ("buy", NO),
    "billing:cancelled": ("buy", NO),
    "billing:auto_reload": ("payment_methods", "payment_methods"),
    "billing:payment_methods": ("payment_methods", NO),
    "billing:payment_method_add": (NO, "payment_methods"),
    "billing:payment_method_remove": (NO, "payment_methods"),
    "billing:payment_method_default": (NO, "payment_methods"),
    "billing:topup": ("buy", "buy"),
    "invoices:settings": ("invoices", "invoices"),
    "invoices:invoice_pdf": ("invoices", NO),
    "invoices:credit_note_pdf": ("invoices", NO),
    "portal_members:members": ("members", NO),
    "portal_members:member_role": (NO, "members"),
    "portal_members:member_remove": (NO, "members"),
    "portal_members:member_transfer": (NO, "members"),
    "agencies_portal:audit": ("audit", NO),
    "invitations:list": ("members", "members"),
    "view_as:redeem": (PUBLIC, NO),
    "view_as:end": (NO, PUBLIC),
    "invitations:resend": (NO, "members"),
    "invitations:revoke": (NO, "members"),
    "usage:usage": (ANY, NO),
    "usage:keys": ("api_keys", "api_keys"),
    "usage:key_revoke": (NO, "api_keys"),
    "ops_portal:usage_report": (ANY, NO),
    "ops_portal:usage_report_chart": (ANY, NO),
    "ops_portal:usage_report_csv": (ANY, NO),
    "ops_portal:alerts": ("alerts", "alerts"),
    "ops_portal:alerts_secret": (NO, "alerts"),
    "ops_portal:alerts_test": (NO, "alerts"),
    "ops_portal:alerts_retry": (NO, "alerts"),
}

# What an allowed request may answer: a page, a redirect, a form error, a missing object, a conflict, or
# Stripe not being reachable from the test run (STRIPE_API_BASE is a closed port), a link that is no longer
# valid (410). Never 403.
ALLOWED_STATUSES = {200, 201, 302, 303, 400, 404, 405, 409, 410, 502, 503}


def routes(urlconf: str) -> dict[str, str]:
    """{name: full route} for every named pattern of the URLconf, includes walked, SKIPPED left out."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str, namespaces: list[str]) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if any(route.startswith(skipped) for skipped in SKIPPED[urlconf]):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route, [*namespaces, pattern.namespace] if pattern.namespace else namespaces)
            else:
                assert isinstance(pattern, URLPattern)
                assert pattern.name, f"{route}: every console and portal route needs a name"
                found[":".join([*namespaces, pattern.name])] = route

    walk(get_resolver(urlconf).url_patterns, "", [])
    return found


def test_every_route_is_in_the_matrix():
    """A route added to either URLconf must say here what its role check is (or be skipped, with why)."""
    assert set(routes(CONSOLE)) == set(CONSOLE_ROUTES)
    assert set(routes(PORTAL)) == set(PORTAL_ROUTES)


def _allowed(table, role: str, capability: str) -> bool:
    return capability == PUBLIC or role in table[capability][0]


def _state() -> dict:
    """What a refused request must leave as it was: every table's row count, and the tenants' rows."""
    counts = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and model._meta.label != "sessions.Session"
    }
    rows = {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in (Organization, User, CreditPackage)
    }
    from agencies.models import Agency

    rows["agencies.Agency"] = list(Agency.objects.order_by("pk").values())
    return {"counts": counts, "rows": rows}


def _kwargs(route: str, world: dict) -> dict:
    return {name: world[name] for name in re.findall(r"<(?:\w+:)?(\w+)>", route)}


def _walk(client, urlconf: str, table, expected, role: str, world: dict) -> list[str]:
    problems = []
    for name, route in sorted(routes(urlconf).items()):
        url = reverse(name, urlconf=urlconf, kwargs=_kwargs(route, world) or None)
        get_needs, post_needs = expected[name]
        if get_needs is NO:
            status = client.get(url).status_code
            if status != 405:
                problems.append(f"GET {name}: {status}, expected 405 (POST only)")
        else:
            status = client.get(url).status_code
            allowed = _allowed(table, role, get_needs)
            if (allowed and status not in ALLOWED_STATUSES) or (not allowed and status != 403):
                problems.append(f"GET {name} as {role}: {status}, expected {'allowed' if allowed else 403}")
        if post_needs is not NO:
            allowed = _allowed(table, role, post_needs)
            before = None if allowed else _state()
            status = client.post(url, {}).status_code
            if allowed and status not in ALLOWED_STATUSES:
                problems.append(f"POST {name} as {role}: {status}, expected allowed")
            if not allowed:
                if status != 403:
                    problems.append(f"POST {name} as {role}: {status}, expected 403")
                elif _state() != before:
                    problems.append(f"POST {name} as {role}: refused, but something changed")
    return problems


@pytest.fixture
def world(make_agency, make_client_user):
    """An agency with one console account per role and a client organization with one portal account per
    role, a package, an API key; ids that name nothing for the rest (their pages answer 404 when allowed)."""
    agency = make_agency(active=True)
    console_accounts = {Role.OWNER: agency.admin}
    for role in AGENCY_ROLES[1:]:
        console_accounts[role] = User.objects.create_user(
            f"{role}@agency.example", PASSWORD, managed_agency=agency, role=role
        )
    owner = make_client_user(agency)
    organization = owner.organization
    portal_accounts = {Role.OWNER: owner}
    for role in ORGANIZATION_ROLES[1:]:
        portal_accounts[role] = User.objects.create_user(
            f"{role}@client.example", PASSWORD, agency=agency, organization=organization, role=role
        )
    return {
        "agency": agency,
        "organization": organization,
        "console": console_accounts,
        "portal": portal_accounts,
        "package_id": agency.packages.first().pk,
        "org_id": organization.pk,
        "purchase_id": 999999,
        "reference": "no-such-reference",
        "method_id": "pm_missing",
        "delivery_id": 999999,
        "invoice_id": 999999,
        "note_id": 999999,
        "size": "desktop",
        "token": "no-such-token",
        "invitation_id": 999999,
    }


@pytest.mark.parametrize("role", AGENCY_ROLES)
def test_console_route_role_matrix(console, world, role):
    user = world["console"][role]
    agency = world["agency"]
    # The member the member pages act on: another console account of this agency.
    world["member_id"] = world["console"][Role.VIEWER if role != Role.VIEWER else Role.BILLING].pk
    world["key_id"] = keys.api_key_create(name="matrix", agency=agency, created_by=agency.admin).api_key.pk
    console.force_login(user)
    assert _walk(console, CONSOLE, AGENCY_CAPABILITIES, CONSOLE_ROUTES, role, world) == []


@pytest.mark.parametrize("role", ORGANIZATION_ROLES)
def test_portal_route_role_matrix(client, world, role):
    user = world["portal"][role]
    organization = world["organization"]
    client.defaults["HTTP_HOST"] = host(world["agency"])
    world["member_id"] = world["portal"][Role.MEMBER if role != Role.MEMBER else Role.BILLING].pk
    world["key_id"] = keys.api_key_create(name="matrix", organization=organization, created_by=user).api_key.pk
    client.force_login(user)
    assert _walk(client, PORTAL, ORGANIZATION_CAPABILITIES, PORTAL_ROUTES, role, world) == []

"""Load the demo: a platform operator, an agency with a live portal, one client.

Idempotent: running it again leaves one of each and resets nothing else.
With STRIPE_API_BASE set (`make run` points it at the bundled Stripe stand-in)
it also makes the demo agency's Stripe account work end to end: the key is
known to the stand-in, the product and a price matching the 100-credit package
exist, and a webhook endpoint for the portal is registered with its signing
secret stored on the agency.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agencies import services, tenancy
from agencies.models import Agency, User
from billing import ledger
from billing.demo_stripe import platform_connect, stripe_connect
from billing.stripe_api import StripeRejected, StripeUnavailable
from invoices.services import seller_details_save

OPERATOR = ("operator@example.com", "operator-demo-pass")
AGENCY_ADMIN = ("agency@example.com", "agency-demo-pass")
CLIENT = ("client@example.com", "client-demo-pass")


def _user(email, password, **fields):
    user = User.objects.filter(email=email, agency=fields.get("agency")).first()
    if user is None:
        user = User.objects.create_user(email, password, **fields)
    return user


DEMO_MINUTES = 10_000


class Command(BaseCommand):
    help = "Create the demo operator, agency (slug 'demo', active) and client."

    def handle(self, *args, **options):
        agency = self._load()
        if settings.STRIPE_API_BASE:
            # Slow I/O, kept out of the transaction that wrote the demo.
            try:
                stripe_connect(agency)
                platform = platform_connect()  # agencies buy minutes on the platform's account
            except (OSError, RuntimeError, StripeUnavailable, StripeRejected) as exc:
                raise CommandError(
                    f"Could not set up the demo's Stripe account at {settings.STRIPE_API_BASE} "
                    f"({exc}). Is the stand-in running? python -m stripe_standin"
                ) from None
            self.stdout.write(
                f"Stripe stand-in at {settings.STRIPE_API_BASE}: demo product, price and webhook ready"
                + ("; the platform's account takes minute purchases." if platform else ".")
            )
        else:
            self.stdout.write(
                "Stripe: the demo agency has placeholder keys. Run with STRIPE_API_BASE pointing at the "
                "stand-in (make run does), or enter your own sk_test_ keys in the console."
            )
        self._print_logins(agency)

    @transaction.atomic
    def _load(self) -> Agency:
        operator = _user(*OPERATOR)
        if not operator.is_superuser:
            operator.is_staff = operator.is_superuser = True
            operator.save(update_fields=["is_staff", "is_superuser"])

        agency = Agency.objects.filter(slug="demo").first()
        if agency is None:
            admin = _user(*AGENCY_ADMIN)
            agency = services.agency_create(company_name="Demo Agency", admin=admin)
            services.agency_update_branding(
                agency=agency,
                data={
                    "company_name": "Demo Agency",
                    "logo_url": "",
                    "primary_color": "#0F766E",
                    "accent_color": "#FBBF24",
                    "slug": "demo",
                },
            )
            services.agency_update_stripe(
                agency=agency,
                data={
                    "stripe_publishable_key": "pk_test_demo0000000000",
                    "stripe_secret_key": "sk_test_demo0000000000",
                    "stripe_product_id": "prod_demo0001",
                    "stripe_price_id": "price_demo0001",
                    "stripe_webhook_secret": "whsec_demo0000000000000000",
                },
            )
            services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
            services.package_create(agency=agency, credits=500, price_cents=17500, currency="EUR")
            seller_details_save(
                agency=agency,
                data={
                    "company_name": "Demo Agency B.V.",
                    "address_line1": "Keizersgracht 1",
                    "address_line2": "",
                    "postal_code": "1015 CJ",
                    "city": "Amsterdam",
                    "country": "NL",
                    "vat_id": "NL004495445B01",
                    "invoice_prefix": "DEMO",
                    "prices_include_vat": True,
                },
            )
        # The demo agency holds call minutes, so its clients' calls go through (an agency with none gets
        # 402 provider_minutes_exhausted for every call). Once: the ledger reference is the guard.
        ledger.minutes_add(
            agency=agency,
            amount=DEMO_MINUTES,
            description="Demo: opening call minutes",
            actor=None,
            reference="demo:opening-minutes",
        )
        missing = services.agency_set_active(agency=agency, active=True)
        if missing:
            self.stderr.write(f"Demo portal not activated, missing: {', '.join(missing)}")

        if not User.objects.filter(email=CLIENT[0], agency=agency).exists():
            client = User.objects.create_user(CLIENT[0], CLIENT[1], agency=agency)
            services.client_signup(user=client, agency=agency, company_name="Demo Client Ltd")

        agency.refresh_from_db()
        return agency

    def _print_logins(self, agency: Agency) -> None:
        self.stdout.write(self.style.SUCCESS("Demo loaded. Log in with:"))
        self.stdout.write(f"  Platform operator  {tenancy.console_url('/admin/')}  {OPERATOR[0]} / {OPERATOR[1]}")
        self.stdout.write(
            f"  Agency admin       {tenancy.console_url('/console/')}  {AGENCY_ADMIN[0]} / {AGENCY_ADMIN[1]}"
        )
        self.stdout.write(f"  Client             {tenancy.portal_url(agency, '/')}  {CLIENT[0]} / {CLIENT[1]}")
        if settings.DEBUG:
            self.stdout.write("  (development server; emails are printed to this console)")

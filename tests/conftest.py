import io
import itertools

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from agencies import services
from agencies.models import Agency, User
from billing import ledger

_seq = itertools.count(1)
_refs = itertools.count(1)
PASSWORD = "a-long-test-password-1"


@pytest.fixture(scope="session", autouse=True)
def _static_manifest(django_db_setup, tmp_path_factory):
    # Templates use {% static %} with the hashed-name storage, as in production.
    # Collected into a directory of this run's own, so concurrent runs don't collide.
    with override_settings(STATIC_ROOT=tmp_path_factory.mktemp("staticfiles")):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production's PBKDF2 costs most of a second per password on a small machine
    # and tests create many accounts. Hashing is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_agency(db):
    """An agency with a console admin; active=True gives it a complete, live portal."""

    def make(*, slug=None, active=False, company_name=None, admin_email=None):
        n = next(_seq)
        slug = slug or f"agency{n}"
        admin = User.objects.create_user(admin_email or f"admin{n}@example.com", PASSWORD)
        agency = services.agency_create(company_name=company_name or f"Agency {n}", admin=admin)
        services.agency_update_branding(agency=agency, data={
            "company_name": agency.company_name, "logo_url": "", "primary_color": "#123456",
            "accent_color": "#ABCDEF", "slug": slug,
        })
        if active:
            services.agency_update_stripe(agency=agency, data={
                "stripe_publishable_key": "pk_test_abcdefgh1234", "stripe_secret_key": "sk_test_abcdefgh1234",
                "stripe_product_id": "prod_test1234", "stripe_price_id": "price_test1234",
                "stripe_webhook_secret": "whsec_abcdefgh12345678",
            })
            services.package_create(agency=agency, credits=100, price_cents=4000, currency="EUR")
            assert services.agency_set_active(agency=agency, active=True) == []
        agency.refresh_from_db()
        agency.admin = admin
        return agency

    return make


@pytest.fixture
def make_client_user(db):
    def make(agency: Agency, *, email=None, company_name="Client Co"):
        user = User.objects.create_user(email or f"client{next(_seq)}@example.com", PASSWORD, agency=agency)
        services.client_signup(user=user, agency=agency, company_name=company_name)
        return user

    return make


def host(agency: Agency) -> str:
    return f"{agency.slug}.localhost"


@pytest.fixture
def console(client):
    """A test client on the console host."""
    client.defaults["HTTP_HOST"] = "localhost"
    return client


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions and row locks (SQLite serializes every write); "
                    "runs in the PostgreSQL pass of .ci/run")


@pytest.fixture
def ledger_broken_on_purpose():
    """Requested by tests that corrupt the ledger to see ledger_check catch it."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # Every scenario that touched the database ends with `manage.py ledger_check`
    # passing: each balance equals the sum of its entries, and purchases hold
    # exactly the credits Stripe says were paid for.
    result = yield
    uses_db = {"db", "transactional_db"} & set(item.fixturenames) or item.get_closest_marker("django_db")
    if uses_db and "ledger_broken_on_purpose" not in item.fixturenames:
        call_command("ledger_check", stdout=io.StringIO())
    return result


def credits_add(organization, amount: int):
    """Top a client up through the ledger, as an agency's allocation does."""
    ledger.credits_allocate(organization=organization, amount=amount, description="test top-up", actor=None,
                            reference=f"test-topup-{next(_refs)}")
    organization.refresh_from_db()


def minutes_add(agency, amount: int):
    """Give an agency minutes through the ledger, as the operator does."""
    ledger.minutes_add(agency=agency, amount=amount, description="test minutes", actor=None,
                       reference=f"test-minutes-{next(_refs)}")
    agency.refresh_from_db()

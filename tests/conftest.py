import io
import itertools
import os
import time
from datetime import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from agencies import services
from agencies.models import Agency, User
from billing import ledger
from tests import openapi_check

_seq = itertools.count(1)
_refs = itertools.count(1)
PASSWORD = "a-long-test-password-1"

# The clock. PORTAL_TEST_NOW (an ISO instant with its zone) starts the whole run's clock there, ticking, so the
# suite can be run in the first second of a month or a year on purpose; `@pytest.mark.now(...)` fixes "now" for a
# test that reasons about days, months or years. Both are time-machine: Python's clock moves (in every thread),
# PostgreSQL's now() and the processes a test starts (chromium, manage.py) keep the real time.
RUN_NOW = "PORTAL_TEST_NOW"
# For `@pytest.mark.now(NOON)`: far from every day, month and year boundary, so a test reasoning about "today"
# or "this month" reads the same calendar from its first line to its last.
NOON = "2026-05-13T12:00:00Z"
_run_travel = pytest.StashKey[time_machine.travel]()
_run_started = pytest.StashKey[float]()  # time.monotonic() when the run's clock started; time-machine leaves it be


def instant(value: str | datetime) -> datetime:
    """An aware datetime from an ISO string (`2027-01-01T00:00:30Z`) or a datetime."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise pytest.UsageError(f"{value!s}: give an ISO time with its zone, e.g. 2027-01-01T00:00:30Z")
    return moment


def pytest_configure(config):
    # As early as pytest lets a conftest act: before collection and the test database's creation,
    # so everything the run writes is stamped on the moved clock.
    value = os.environ.get(RUN_NOW)
    if value:
        config.stash[_run_travel] = travel = time_machine.travel(instant(value), tick=True)
        travel.start()
        config.stash[_run_started] = time.monotonic()


def pytest_unconfigure(config):
    travel = config.stash.get(_run_travel, None)
    if travel is not None:
        travel.stop()


def run_clock(config) -> tuple[datetime, float] | None:
    """Where PORTAL_TEST_NOW started this run's clock, and how many real seconds ago; None on the real clock."""
    if _run_travel not in config.stash:
        return None
    return instant(os.environ[RUN_NOW]), time.monotonic() - config.stash[_run_started]


def pytest_report_header(config):
    if _run_travel in config.stash:
        return (
            f"clock: moved, the run starts at {os.environ[RUN_NOW]} ({RUN_NOW}) and ticks; "
            f"PostgreSQL's now() and child processes keep the real time"
        )
    return None


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("now"):
            item.fixturenames.insert(0, "clock")  # first, so the rows other fixtures make are stamped then too


@pytest.fixture
def clock(request):
    """The test's clock, a time-machine traveller (`clock.move_to(...)`, `clock.shift(...)`).

    `@pytest.mark.now("2026-03-15T12:00:00Z")` starts it at that instant, ticking (`tick=False` freezes it);
    without the marker it starts from the current time.
    """
    marker = request.node.get_closest_marker("now")
    start, tick = (instant(marker.args[0]), marker.kwargs.get("tick", True)) if marker else (None, True)
    with time_machine.travel(start, tick=tick) as traveller:
        yield traveller


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
        services.agency_update_branding(
            agency=agency,
            data={
                "company_name": agency.company_name,
                "logo_url": "",
                "primary_color": "#123456",
                "accent_color": "#ABCDEF",
                "slug": slug,
            },
        )
        if active:
            services.agency_update_stripe(
                agency=agency,
                data={
                    "stripe_publishable_key": "pk_test_abcdefgh1234",
                    "stripe_secret_key": "sk_test_abcdefgh1234",
                    "stripe_product_id": "prod_test1234",
                    "stripe_price_id": "price_test1234",
                    "stripe_webhook_secret": "whsec_abcdefgh12345678",
                },
            )
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
        pytest.skip(
            "needs PostgreSQL: concurrent transactions and row locks (SQLite serializes every write); "
            "runs in the PostgreSQL pass of .ci/run"
        )


@pytest.fixture(autouse=True)
def _openapi_conformance():
    # Every answer a test client gets under /api/v1/ must be one docs/openapi.yaml describes
    # (tests/openapi_check.py); a nonconforming one fails the test that asked, even from another thread.
    openapi_check.install()
    openapi_check.problems.clear()
    yield
    if openapi_check.problems:
        found = "\n".join(openapi_check.problems)
        openapi_check.problems.clear()
        pytest.fail(f"answers that docs/openapi.yaml does not describe:\n{found}", pytrace=False)


def pytest_terminal_summary(terminalreporter):
    count, seconds = openapi_check.stats["responses"], openapi_check.stats["seconds"]
    if count:
        terminalreporter.write_line(
            f"openapi: {count} /api/v1/ answers checked against docs/openapi.yaml, "
            f"{seconds * 1000 / count:.2f} ms each on average ({seconds:.1f} s in all)"
        )


@pytest.fixture
def ledger_broken_on_purpose():
    """Requested by tests that corrupt the ledger to see ledger_check catch it."""


@pytest.fixture
def usage_broken_on_purpose():
    """Requested by tests that corrupt the usage rollups to see usage_check catch it."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # Every scenario that touched the database ends with `manage.py ledger_check`
    # passing: each balance equals the sum of its entries, and purchases hold
    # exactly the credits Stripe says were paid for. Beside it, `manage.py usage_check`: the daily
    # usage rollups equal the calls they sum.
    result = yield
    uses_db = {"db", "transactional_db"} & set(item.fixturenames) or item.get_closest_marker("django_db")
    if uses_db and "ledger_broken_on_purpose" not in item.fixturenames:
        call_command("ledger_check", stdout=io.StringIO())
    if uses_db and "usage_broken_on_purpose" not in item.fixturenames:
        call_command("usage_check", stdout=io.StringIO())
    if uses_db:
        if "live_server" in item.fixturenames and not connection.in_atomic_block:
            # With Playwright's greenlets running, this hook sees another context's connection than the
            # test's teardown does, so nothing else would close it: left open, it keeps PostgreSQL from
            # dropping the test database at the end of the run.
            connection.close()
    return result


def credits_add(organization, amount: int):
    """Top a client up through the ledger, as an agency's allocation does."""
    ledger.credits_allocate(
        organization=organization,
        amount=amount,
        description="test top-up",
        actor=None,
        reference=f"test-topup-{next(_refs)}",
    )
    organization.refresh_from_db()


def minutes_add(agency, amount: int):
    """Give an agency minutes through the ledger, as the operator does."""
    ledger.minutes_add(
        agency=agency, amount=amount, description="test minutes", actor=None, reference=f"test-minutes-{next(_refs)}"
    )
    agency.refresh_from_db()


def seller_details_add(agency, *, country="DE", vat_id=""):
    """The seller details go-live readiness requires (what the agency's invoices print)."""
    from invoices import services as invoice_services

    return invoice_services.seller_details_save(
        agency=agency,
        data={
            "company_name": f"{agency.company_name} Ltd",
            "address_line1": "Hauptstraße 1",
            "address_line2": "",
            "postal_code": "10115",
            "city": "Berlin",
            "country": country,
            "vat_id": vat_id,
            "invoice_prefix": "SELL",
            "prices_include_vat": True,
        },
    )

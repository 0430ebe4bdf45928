import io

import pytest
from django.core.management import call_command
from django.db import connection

from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_standin  # noqa: F401

DB_FIXTURES = {"db", "transactional_db"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Accounts are made in most tests; password hashing is not under test here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
    # Every billing scenario ends with `manage.py ledger_check` passing: balances equal
    # their entries and purchases hold exactly the credits Stripe says they paid for.
    result = yield
    uses_db = DB_FIXTURES & set(item.fixturenames) or item.get_closest_marker("django_db")
    if uses_db and "ledger_broken_on_purpose" not in item.fixturenames:
        call_command("ledger_check", stdout=io.StringIO())
    return result

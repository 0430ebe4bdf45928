# Stripe stand-in fixtures for the billing tests.
from tests.stripe_fixtures import stripe_account, stripe_agency, stripe_base, stripe_standin  # noqa: F401

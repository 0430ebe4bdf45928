# Stripe stand-in fixtures for the billing tests.
from tests.stripe_fixtures import (  # noqa: F401
    connected_agency,
    keyed_agency,
    stripe_account,
    stripe_agency,
    stripe_base,
    stripe_platform,
    stripe_standin,
)

"""core.stripe_keys and core.refs: one reading of a key's mode, one client_reference_id."""

import pytest

from core.refs import client_reference
from core.stripe_keys import is_live_key, key_mode


@pytest.mark.parametrize(
    "key, mode",
    [
        ("sk_live_abc12345", "live"),
        ("rk_live_abc12345", "live"),
        ("pk_live_abc12345", "live"),
        ("sk_test_abc12345", "test"),
        ("pk_test_abc12345", "test"),
        ("", "test"),
        (None, "test"),
    ],
)
def test_key_mode_reads_the_prefix(key, mode):
    assert key_mode(key) == mode
    assert is_live_key(key) is (mode == "live")


def test_client_reference_names_the_client_or_the_agency_buying_minutes():
    assert client_reference(agency_id=3, organization_id=17) == "org_17"
    assert client_reference(agency_id=3, organization_id=None) == "agency_3"

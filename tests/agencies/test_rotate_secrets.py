"""`manage.py rotate_secrets`: re-encrypt stored secrets under the newest key."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from agencies import services
from agencies.models import Agency

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
SECRET = "sk_test_rotateMe4242"
HOOK_SECRET = "whsec_rotateHook7777"


def raw_secrets(agency: Agency) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stripe_secret_key, stripe_webhook_secret FROM agencies_agency WHERE id = %s",
            [agency.pk],
        )
        return cursor.fetchone()


@pytest.fixture
def agency_under_old_key(make_agency, settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    agency = make_agency()
    services.agency_update_stripe(
        agency=agency,
        data={
            "stripe_publishable_key": "pk_test_rotate000001",
            "stripe_secret_key": SECRET,
            "stripe_product_id": "prod_rotate1",
            "stripe_price_id": "price_rotate1",
            "stripe_webhook_secret": HOOK_SECRET,
        },
    )
    return agency


def rotate() -> str:
    out = StringIO()
    call_command("rotate_secrets", stdout=out, stderr=out)
    return out.getvalue()


def test_rotated_secrets_decrypt_with_only_the_new_key(agency_under_old_key, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(ValueError):
        Agency.objects.get(pk=agency_under_old_key.pk)  # not readable before rotation

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    rotate()

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    agency = Agency.objects.get(pk=agency_under_old_key.pk)
    assert (agency.stripe_secret_key, agency.stripe_webhook_secret) == (SECRET, HOOK_SECRET)


def test_rotation_rewrites_the_stored_ciphertext(agency_under_old_key, settings):
    before = raw_secrets(agency_under_old_key)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    rotate()
    after = raw_secrets(agency_under_old_key)
    assert after[0] != before[0] and after[1] != before[1]
    assert SECRET not in after[0] and HOOK_SECRET not in after[1]
    new_only = Fernet(NEW_KEY.encode())
    assert new_only.decrypt(after[0].encode()).decode() == SECRET
    assert new_only.decrypt(after[1].encode()).decode() == HOOK_SECRET


def test_rotation_reports_how_many_agencies_and_no_secret(agency_under_old_key, make_agency, settings):
    make_agency()  # no secrets stored: nothing to rotate
    second = make_agency()
    services.agency_update_stripe(
        agency=second,
        data={
            "stripe_publishable_key": "",
            "stripe_secret_key": "",
            "stripe_product_id": "",
            "stripe_price_id": "",
            "stripe_webhook_secret": "whsec_onlyTheHook0001",
        },
    )
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    output = rotate()
    assert "Rotated the secrets of 2 agencies." in output
    for secret in (SECRET, HOOK_SECRET, "whsec_onlyTheHook0001", "4242", "7777"):
        assert secret not in output


def test_rotation_leaves_other_fields_alone(agency_under_old_key, settings):
    before = Agency.objects.values().get(pk=agency_under_old_key.pk)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    rotate()
    assert Agency.objects.values().get(pk=agency_under_old_key.pk) == before


def test_secrets_no_key_decrypts_fail_the_command_without_showing_them(agency_under_old_key, make_agency, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    readable = make_agency()
    services.agency_update_stripe(
        agency=readable,
        data={
            "stripe_publishable_key": "",
            "stripe_secret_key": "sk_test_readable0001",
            "stripe_product_id": "",
            "stripe_price_id": "",
            "stripe_webhook_secret": "",
        },
    )
    lost_before = raw_secrets(agency_under_old_key)
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("rotate_secrets", stdout=out)
    assert f"(id {agency_under_old_key.pk})" in str(failure.value)
    assert "Rotated the secrets of 1 agency." in out.getvalue()
    assert raw_secrets(agency_under_old_key) == lost_before
    for text in (out.getvalue(), str(failure.value)):
        assert SECRET not in text and lost_before[0] not in text

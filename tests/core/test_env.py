"""core.env: a setting the portal cannot read stops the process and says which variable and what it accepts."""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_rates

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("On", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("PORTAL_TEST_FLAG", raw)
    assert env_bool("PORTAL_TEST_FLAG", not expected) is expected


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_env_bool_unset_or_empty_is_the_default(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("PORTAL_TEST_FLAG", raising=False)
    else:
        monkeypatch.setenv("PORTAL_TEST_FLAG", raw)
    assert env_bool("PORTAL_TEST_FLAG", True) is True
    assert env_bool("PORTAL_TEST_FLAG", False) is False


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "y es"])
def test_env_bool_refuses_what_it_does_not_understand(monkeypatch, raw):
    monkeypatch.setenv("PORTAL_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured) as refused:
        env_bool("PORTAL_TEST_FLAG", True)
    message = str(refused.value)
    assert "PORTAL_TEST_FLAG" in message and repr(raw.strip()) in message
    assert "true" in message and "false" in message


def test_env_int_reads_whole_numbers_and_refuses_the_rest(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_NUMBER", " 42 ")
    assert env_int("PORTAL_TEST_NUMBER", 5) == 42
    monkeypatch.setenv("PORTAL_TEST_NUMBER", "")
    assert env_int("PORTAL_TEST_NUMBER", 5) == 5
    for raw in ("5s", "1.5", "five"):
        monkeypatch.setenv("PORTAL_TEST_NUMBER", raw)
        with pytest.raises(ImproperlyConfigured, match=f"PORTAL_TEST_NUMBER='{raw}' is not a whole number"):
            env_int("PORTAL_TEST_NUMBER", 5)
    monkeypatch.setenv("PORTAL_TEST_NUMBER", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("PORTAL_TEST_NUMBER", 5, minimum=0)


def test_env_rates_reads_pairs_and_refuses_a_malformed_one(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_RATES", "usd=0.92, GBP=1.17")
    assert env_rates("PORTAL_TEST_RATES") == {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}
    for raw in ("USD", "USD=", "USD=abc", "=1", "USD=0", "USD=-1", "USD=NaN"):
        monkeypatch.setenv("PORTAL_TEST_RATES", raw)
        with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_RATES has"):
            env_rates("PORTAL_TEST_RATES")


def _start_django(**environ) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECURE_SSL_REDIRECT)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **environ}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_misspelt_portal_https_stops_the_process_with_a_message():
    started = _start_django(PORTAL_HTTPS="ture")
    assert started.returncode != 0
    assert started.stdout == ""
    assert "PORTAL_HTTPS='ture' is not a yes/no value" in started.stderr


def test_a_bad_number_stops_the_process_with_a_message():
    started = _start_django(PORTAL_HTTPS="1", TENANT_CACHE_SECONDS="5s")
    assert started.returncode != 0
    assert "TENANT_CACHE_SECONDS='5s' is not a whole number" in started.stderr


def test_a_well_spelt_portal_https_keeps_https_on():
    started = _start_django(PORTAL_HTTPS="yes")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "True"

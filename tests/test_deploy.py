"""Production settings pass Django's deployment checks with no warnings."""

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT = Path(__file__).resolve().parent.parent


def check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    alphabet = string.ascii_letters + string.digits + string.punctuation
    env = {
        **os.environ,
        "DEBUG": "0",
        "PORTAL_HTTPS": "1",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(60)),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PORTAL_BASE_DOMAIN": "portal.example.com",
        "PORTAL_CNAME_TARGET": "",
        "PORTAL_PUBLIC_PORT": "",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py's own default, as in production
    env.update(overrides)
    env = {name: value for name, value in env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy():
    result = check_deploy()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output and "ERROR" not in output
    assert "System check identified no issues" in output


def test_check_deploy_warns_about_the_development_encryption_key():
    result = check_deploy(FIELD_ENCRYPTION_KEYS=None)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "portal.W001" in output
    # The only complaint: everything else is production-ready.
    assert output.count("(portal.") + output.count("(security.") == 1, output


def test_check_deploy_warns_while_the_development_key_is_still_listed():
    from django.conf import settings

    keys = f"{Fernet.generate_key().decode()},{settings.DEV_FIELD_ENCRYPTION_KEY}"
    result = check_deploy(FIELD_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert "portal.W001" in result.stdout + result.stderr

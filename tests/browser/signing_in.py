"""What the browser tests do to sign in: the allauth login form, and an authenticator app's code."""

import time

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from tests.conftest import PASSWORD


def log_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Fill in and send the login form on `base` (a console or portal origin); the caller checks where it lands."""
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()


def totp(secret: str, step: int = 0) -> str:
    """What the authenticator app shows for `secret` now (or `step` periods of 30 seconds away)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))

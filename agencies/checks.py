"""System checks for this project's own settings."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def field_encryption_keys_check(app_configs, **kwargs):
    """The development encryption key is in the public source: secrets under it are not secret."""
    if settings.DEV_FIELD_ENCRYPTION_KEY not in settings.FIELD_ENCRYPTION_KEYS:
        return []
    return [
        checks.Warning(
            "FIELD_ENCRYPTION_KEYS includes the built-in development key, so the Stripe "
            "secrets stored at rest are readable by anyone with the source code.",
            hint=(
                "Generate a key (python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'), set FIELD_ENCRYPTION_KEYS to it "
                "(keep the development key after it only until `manage.py rotate_secrets` has run)."
            ),
            id="portal.W001",
        )
    ]

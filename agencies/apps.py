from django.apps import AppConfig
from django.core import checks


class AgenciesConfig(AppConfig):
    name = "agencies"

    def ready(self):
        from . import checks as project_checks  # noqa: F401  (registers the system checks)
        from .mfa import connect_audit

        connect_audit()  # two-factor sign-in turned on or off goes to the audit log

        _scope_allauth_settings_check()


def _scope_allauth_settings_check():
    """allauth assumes one global identity per email and refuses email login
    without ACCOUNT_UNIQUE_EMAIL. Here an email is unique per host instead: the
    database enforces it (agencies.User constraints), the sign-up form checks
    it, and agencies.backends.PortalBackend scopes every login to the host.
    Keep allauth's other settings checks; drop only that one message (it has no
    check id, so SILENCED_SYSTEM_CHECKS cannot name it)."""
    from allauth.account import checks as allauth_checks

    original = allauth_checks.settings_check
    checks.registry.registry.registered_checks.discard(original)

    @checks.register()
    def allauth_settings_check(app_configs, **kwargs):
        return [
            message for message in original(app_configs, **kwargs) if "requires ACCOUNT_UNIQUE_EMAIL" not in message.msg
        ]

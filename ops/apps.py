from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running an agency's business: pull sync, low-balance alerts, dashboards."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from . import checks  # noqa: F401  (registers the deployment checks)

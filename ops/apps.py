from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running an agency's business: pull sync, low-balance alerts, dashboards."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        # Imported for what they register: the deployment checks; the ops sweep with core.periodic (db_worker).
        from . import checks, tasks  # noqa: F401

from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "Usage and API"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the reservation sweep with core.periodic, for db_worker)

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the Stripe reconciliation with core.periodic, for db_worker)

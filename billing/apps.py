from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from . import stripe_check, tasks  # noqa: F401  (register the daily Stripe check and the reconciliation with core.periodic, for db_worker)

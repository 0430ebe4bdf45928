from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from . import stripe_check  # noqa: F401  (registers the daily Stripe check with core.periodic, for db_worker)

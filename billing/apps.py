from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        # Imported for their side effects: the daily Stripe check and the reconciliation register with
        # core.periodic (for db_worker); auto_reload registers auto_reload_method_removed in
        # payment_methods.METHOD_REMOVED_HOOKS, so detaching a card turns off the auto-reload that uses it.
        from . import auto_reload, stripe_check, tasks  # noqa: F401

from django.apps import AppConfig
from django.db.models.signals import pre_delete


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "Usage and API"

    def ready(self):
        from django.contrib.auth import get_user_model

        from . import tasks  # noqa: F401  (registers the reservation sweep with core.periodic, for db_worker)

        # agencies deletes a removed member's account but may not import usage (layers): its keys are
        # revoked here, in the same transaction, before created_by empties and they would act as owner.
        pre_delete.connect(_creator_deleted, sender=get_user_model(), dispatch_uid="usage.keys_of_deleted_user")


def _creator_deleted(sender, instance, **kwargs):
    from . import keys

    keys.api_keys_revoke_created_by(user=instance)

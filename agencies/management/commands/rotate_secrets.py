from django.core.management.base import BaseCommand, CommandError

from agencies import services


class Command(BaseCommand):
    help = (
        "Re-encrypt every agency's Stripe secrets with the first key of FIELD_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options):
        rotated, failed = services.agency_secrets_rotate()
        # Counts and ids only: a secret never reaches the output.
        self.stdout.write(f"Rotated the secrets of {rotated} agenc{'y' if rotated == 1 else 'ies'}.")
        if failed:
            ids = ", ".join(str(pk) for pk in failed)
            raise CommandError(
                f"{len(failed)} agenc{'y' if len(failed) == 1 else 'ies'} (id {ids}) could not be decrypted "
                "with any key in FIELD_ENCRYPTION_KEYS; their secrets were left as they are."
            )

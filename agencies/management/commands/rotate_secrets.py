from django.core.management.base import BaseCommand, CommandError

from agencies import mfa, services


class Command(BaseCommand):
    help = (
        "Re-encrypt every agency's Stripe secrets and every account's two-factor secrets with the first key of "
        "FIELD_ENCRYPTION_KEYS. Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options):
        rotated, failed = services.agency_secrets_rotate()
        # Counts and ids only: a secret never reaches the output.
        self.stdout.write(f"Rotated the secrets of {rotated} agenc{'y' if rotated == 1 else 'ies'}.")
        mfa_rotated, mfa_failed = mfa.mfa_secrets_rotate()
        self.stdout.write(f"Rotated {mfa_rotated} two-factor secret{'' if mfa_rotated == 1 else 's'}.")
        problems = []
        if failed:
            ids = ", ".join(str(pk) for pk in failed)
            problems.append(f"{len(failed)} agenc{'y' if len(failed) == 1 else 'ies'} (id {ids})")
        if mfa_failed:
            ids = ", ".join(str(pk) for pk in mfa_failed)
            problems.append(f"{len(mfa_failed)} two-factor secret{'' if len(mfa_failed) == 1 else 's'} (id {ids})")
        if problems:
            raise CommandError(
                f"{' and '.join(problems)} could not be decrypted with any key in FIELD_ENCRYPTION_KEYS; "
                "they were left as they are."
            )

"""Find stored usage records no reader can load (or that today's ingest would refuse); --repair fixes them."""

from django.core.management.base import BaseCommand, CommandError

from usage import data_check


class Command(BaseCommand):
    help = (
        "Report usage records whose created_at is before 2000-01-01 or in the future (such as year 0, "
        "stored before created_at was bounded, which makes every read of the row fail). With --repair, "
        "set their created_at to the time the record was received; charges are not touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Set created_at to received_at for each one.")

    def handle(self, *args, repair: bool = False, **options):
        odd = data_check.usage_odd_records()
        if not odd:
            self.stdout.write(self.style.SUCCESS("Usage data check passed: every record has a loadable created_at."))
            return
        lines = [f"agency {r.agency_id}, record {r.record_id!r} (row {r.pk}): created_at {r.created_at}" for r in odd]
        if not repair:
            raise CommandError(
                f"{len(odd)} usage record(s) with a created_at out of range (run with --repair to set "
                "it to when the record was received):\n  " + "\n  ".join(lines)
            )
        repaired = data_check.usage_odd_records_repair()
        self.stdout.write("\n".join(lines))
        self.stdout.write(self.style.SUCCESS(f"Repaired {repaired} usage record(s): created_at set to received_at."))

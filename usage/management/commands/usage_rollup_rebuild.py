"""Rebuild the daily usage rollups from the raw call rows, for a range of UTC days and one or every organization."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from agencies.models import Organization
from usage import rollups


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date: give YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Recompute the daily usage rollups from the usage records: every day, or --from/--to (UTC days, "
        "inclusive), for every organization or --organization ID. One transaction per organization, holding "
        "its agency's lock, so no ingest interleaves."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=_day, help="First UTC day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", type=_day, help="Last UTC day, YYYY-MM-DD.")
        parser.add_argument("--organization", type=int, help="Only this organization (its id).")

    def handle(self, *args, start=None, end=None, organization=None, **options):
        if start and end and start > end:
            raise CommandError("--from must not be after --to.")
        if organization is not None and not Organization.objects.filter(pk=organization).exists():
            raise CommandError(f"No organization with id {organization}.")
        written = rollups.usage_rollups_rebuild(organization_id=organization, start=start, end=end)
        span = f"{start or 'the first day'} to {end or 'the last day'}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt the usage rollups of {len(written)} organization(s), {span}: "
                f"{sum(written.values())} organization-day row(s) written."
            )
        )

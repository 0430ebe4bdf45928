"""Writes for usage sources: an agency's own, set in the console (the platform's are set in Django admin)."""

from django.db import transaction
from django.utils import timezone

from agencies.models import Agency

from .models import UsageSource


def usage_source_save(*, agency: Agency, base_url: str, api_key: str, start_date, enabled: bool) -> UsageSource:
    """Create or change the agency's source; an empty api_key keeps the stored one.

    A new address or start day starts the high-water mark over (a different
    upstream, or days not pulled yet); pulling again what was pulled before
    changes nothing. The source is due at once.
    """
    with transaction.atomic():
        source = UsageSource.objects.select_for_update().filter(agency=agency).first()
        if source is None:
            source = UsageSource(agency=agency)
        elif source.base_url != base_url or source.start_date != start_date:
            source.synced_through = None
        source.base_url, source.start_date, source.enabled = base_url, start_date, enabled
        if api_key:
            source.api_key = api_key
        source.failures = 0
        source.next_attempt_at = timezone.now()
        source.save()
    return source


def usage_source_pull_now(*, source: UsageSource) -> None:
    """Make the source due and queue its pull (after the commit, in the worker), unless one is queued already."""
    from .tasks import usage_source_pull_queue

    UsageSource.objects.filter(pk=source.pk).update(next_attempt_at=timezone.now())
    transaction.on_commit(lambda: usage_source_pull_queue(source_ids=[source.pk]))


def usage_source_remove(*, agency: Agency) -> bool:
    deleted, _ = UsageSource.objects.filter(agency=agency).delete()
    return bool(deleted)

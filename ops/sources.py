"""Writes for usage sources: an agency's own, set in the console, and any source set in Django admin."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from agencies.audit import audit_record, changes_between, snapshot
from agencies.models import Agency, User

from .models import UsageSource

AUDITED_FIELDS = ["agency", "name", "base_url", "api_key", "start_date", "enabled"]


def usage_source_save(
    *,
    agency: Agency | None,
    base_url: str,
    api_key: str,
    start_date: date,
    enabled: bool,
    source_id: int | None = None,
    name: str | None = None,
    actor: User | None = None,
) -> UsageSource:
    """Create or change a source; an empty api_key keeps the stored one.

    The console changes the agency's own source (found by `agency`); Django
    admin names the source it edits (`source_id`; None adds one), which may be
    a platform-wide one (`agency` None). A new address, start day or agency
    starts the high-water mark over (a different upstream, or days not pulled
    yet); pulling again what was pulled before changes nothing. The source is
    due at once.
    """
    with transaction.atomic():
        source: UsageSource | None
        if source_id is not None:
            source = UsageSource.objects.select_for_update().get(pk=source_id)
        elif agency is not None:
            source = UsageSource.objects.select_for_update().filter(agency=agency).first()
        else:
            source = None
        before = snapshot(source, AUDITED_FIELDS) if source is not None else {}
        if source is None:
            source = UsageSource(agency=agency)
        elif (source.base_url, source.start_date, source.agency_id) != (base_url, start_date, agency and agency.pk):
            source.synced_through = None
        source.agency, source.base_url, source.start_date, source.enabled = agency, base_url, start_date, enabled
        if name is not None:
            source.name = name
        if api_key:
            source.api_key = api_key
        source.failures = 0
        source.next_attempt_at = timezone.now()
        source.save()
        changes = changes_between(before, snapshot(source, AUDITED_FIELDS), secret=["api_key"])
        if changes:
            audit_record(
                actor=actor,
                action="usage_source.change" if before else "usage_source.create",
                agency_id=source.agency_id,
                obj=source,
                changes=changes,
            )
    return source


def usage_source_pull_now(*, source: UsageSource) -> None:
    """Make the source due and queue its pull (after the commit, in the worker), unless one is queued already."""
    from .tasks import usage_source_pull_queue

    UsageSource.objects.filter(pk=source.pk).update(next_attempt_at=timezone.now())
    transaction.on_commit(lambda: usage_source_pull_queue(source_ids=[source.pk]))


def usage_source_remove(*, agency: Agency, actor: User | None = None) -> bool:
    with transaction.atomic():
        source = UsageSource.objects.select_for_update().filter(agency=agency).first()
        if source is None:
            return False
        audit_record(
            actor=actor,
            action="usage_source.delete",
            agency_id=agency.pk,
            obj=source,
            changes=changes_between(snapshot(source, AUDITED_FIELDS), {}, secret=["api_key"]),
        )
        source.delete()
    return True

"""Reading the audit log: one tenant's entries, filtered by person, kind and day (the pages and the CSV)."""

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from .models import AuditEntry


def audit_entries(*, agency_id: int, organization_id: int | None = None) -> QuerySet[AuditEntry]:
    """The agency's log, newest first; with organization_id only that client's entries (its own log)."""
    entries = AuditEntry.objects.filter(agency_id=agency_id)
    if organization_id is not None:
        entries = entries.filter(organization_id=organization_id)
    return entries.order_by("-created_at", "-pk")


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class AuditFilterForm(forms.Form):
    """Filters of a log page; the choices are what the tenant's own log holds."""

    person = forms.ChoiceField(required=False, label="Person")
    kind = forms.ChoiceField(required=False, label="Kind")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any, *, entries: QuerySet[AuditEntry]):
        super().__init__(data)
        people = entries.exclude(actor_email="").order_by("actor_email").values_list("actor_email", flat=True)
        actions = entries.order_by().values_list("action", flat=True).distinct()
        kinds = sorted({action.split(".", 1)[0] for action in actions})
        person, kind = self.fields["person"], self.fields["kind"]
        assert isinstance(person, forms.ChoiceField) and isinstance(kind, forms.ChoiceField)
        person.choices = [("", "Everyone"), *((email, email) for email in people.distinct())]
        kind.choices = [("", "Every kind"), *((name, name) for name in kinds)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date is before the start date.")
        return data

    def apply(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        """The entries the valid filters keep (an invalid form filters nothing and shows its errors)."""
        if not self.is_valid():
            return entries
        data = self.cleaned_data
        if data["person"]:
            entries = entries.filter(actor_email=data["person"])
        if data["kind"]:
            entries = entries.filter(action__startswith=data["kind"] + ".")
        if data["since"]:
            entries = entries.filter(created_at__gte=_day_start(data["since"]))
        if data["until"]:
            entries = entries.filter(created_at__lt=_day_start(data["until"] + timedelta(days=1)))
        return entries


def change_lines(entry: AuditEntry) -> list[str]:
    """Each changed field as one line, "field: before → after"."""

    def shown(value: Any) -> str:
        return "—" if value in (None, "") else str(value)

    lines = []
    for name, pair in sorted(entry.changes.items()):
        before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        lines.append(f"{name}: {shown(before)} → {shown(after)}")
    return lines


CSV_HEADER = ["time", "person", "kind of account", "action", "object type", "object id", "object", "changes", "ip"]


def csv_rows(entries: QuerySet[AuditEntry]):
    for entry in entries.iterator(chunk_size=500):
        yield (
            entry.created_at,
            entry.actor_email or "system",
            entry.actor_kind,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.object_repr,
            "; ".join(change_lines(entry)),
            entry.ip,
        )

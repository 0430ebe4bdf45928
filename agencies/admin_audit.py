"""The operator's changes in Django admin go to the audit log, whatever the model.

`AuditedAdminSite` is the project's default admin site (agencies.apps.AuditedAdminConfig replaces
django.contrib.admin in INSTALLED_APPS): every ModelAdmin registered on it gets
`AuditedModelAdminMixin`, so a model added later is audited without anyone remembering to. An add
or change is recorded when the admin builds its change message (the form then knows the fields it
changed, with their initial and saved values), inside the admin's own transaction; a deletion
before the row goes. Secrets (encrypted fields, passwords, keys, tokens) are recorded as "changed".
"""

import re
from typing import Any

from django.contrib import admin
from django.db import models, transaction

from .audit import SECRET, audit_record
from .crypto import EncryptedTextField
from .models import Agency, Organization

SECRET_NAME = re.compile(r"secret|password|token|key_hash|api_key", re.IGNORECASE)


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple, set, models.QuerySet)):
        return [_plain(item) for item in value]
    return value if isinstance(value, (str, int, bool, float, type(None))) else str(value)


def _is_secret(model: type[models.Model] | None, name: str) -> bool:
    if SECRET_NAME.search(name):
        return True
    if model is None:
        return False
    try:
        return isinstance(model._meta.get_field(name), EncryptedTextField)
    except Exception:  # a form field that is not a model field
        return False


def _tenant(obj: models.Model) -> tuple[int | None, int | None]:
    """(agency_id, organization_id) whose log shows a change to `obj`; (None, None): the platform's."""
    if isinstance(obj, Agency):
        return obj.pk, None
    if isinstance(obj, Organization):
        return obj.agency_id, obj.pk
    organization_id = getattr(obj, "organization_id", None)
    agency_id = getattr(obj, "agency_id", None) or getattr(obj, "managed_agency_id", None)
    if organization_id is not None and agency_id is None:
        agency_id = Organization.objects.filter(pk=organization_id).values_list("agency_id", flat=True).first()
    return agency_id, organization_id


def _record(request, action: str, obj: models.Model, changes: dict[str, list[Any]]) -> None:
    agency_id, organization_id = _tenant(obj)
    audit_record(
        actor=request.user,
        actor_kind="operator",
        action=action,
        agency_id=agency_id,
        organization_id=organization_id,
        obj=obj,
        changes=changes,
    )


class AuditedModelAdminMixin:
    # False on an admin whose save goes through a service that logs the change itself.
    audit_admin_changes = True

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)  # type: ignore[misc]
        obj = getattr(form, "instance", None) or getattr(form, "user", None)  # a ModelForm, or a password form
        if self.audit_admin_changes and obj is not None:
            model = type(obj)
            changes: dict[str, list[Any]] = {}
            for name in form.changed_data:
                if _is_secret(model, name):
                    changes[name] = [SECRET, SECRET]
                else:
                    before = None if add else _plain(form.initial.get(name))
                    changes[name] = [before, _plain(form.cleaned_data.get(name))]
            for formset in formsets or []:
                for inline in formset.new_objects + [o for o, _ in formset.changed_objects] + formset.deleted_objects:
                    changes.setdefault(f"{inline._meta.model_name} {inline.pk}", [None, "changed"])
            _record(request, "admin.add" if add else "admin.change", obj, changes)
        return message

    def _deleted(self, request, obj) -> None:
        if not self.audit_admin_changes:
            return
        fields = [f for f in obj._meta.concrete_fields if not f.primary_key]
        changes = {
            f.name: [SECRET if _is_secret(type(obj), f.name) else _plain(getattr(obj, f.attname)), None] for f in fields
        }
        _record(request, "admin.delete", obj, changes)

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._deleted(request, obj)
            super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self._deleted(request, obj)
            super().delete_queryset(request, queryset)  # type: ignore[misc]


class AuditedAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, AuditedModelAdminMixin):
            base = type(base.__name__, (AuditedModelAdminMixin, base), {"__module__": base.__module__})
        super().register(model_or_iterable, base, **options)

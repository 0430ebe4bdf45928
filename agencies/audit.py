"""The audit log: record who changed what, for which tenant, with the fields before and after.

Services call `audit_record` in the transaction that makes the change, so an entry exists exactly
when the change does. The request's address reaches it through `request_context` (set by
agencies.middleware.AuditContextMiddleware), so services need not carry the request. Secrets are
never written: a field named in `secret` is recorded as "changed" only.
"""

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models, transaction

from .models import AuditEntry, User

SECRET = "changed"

_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_ip", default=None)


@contextmanager
def request_context(*, ip: str | None) -> Iterator[None]:
    """Entries recorded inside carry this address (the middleware wraps each request in it)."""
    token = _ip.set(ip or None)
    try:
        yield
    finally:
        _ip.reset(token)


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields' values, as the log stores them (JSON-safe; foreign keys as their ids)."""
    values = {}
    for name in fields:
        value = getattr(obj, getattr(obj._meta.get_field(name), "attname", name))  # a foreign key's id
        values[name] = value if isinstance(value, (str, int, bool, float, type(None))) else str(value)
    return values


def changes_between(
    before: dict[str, Any], after: dict[str, Any], *, secret: Iterable[str] = ()
) -> dict[str, list[Any]]:
    """{field: [before, after]} for each field whose value differs; a secret one as ["changed", "changed"]."""
    hidden = set(secret)
    changed = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            changed[name] = [SECRET, SECRET] if name in hidden else [old, new]
    return changed


def _actor_kind(actor: User | None) -> str:
    if actor is None:
        return "system"
    if actor.agency_id is not None:
        return "client"
    if actor.managed_agency_id is not None:
        return "agency"
    return "operator"


def audit_record(
    *,
    actor: User | None,
    action: str,
    agency_id: int | None,
    organization_id: int | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    changes: dict[str, list[Any]] | None = None,
    actor_kind: str | None = None,
) -> AuditEntry:
    """Append one entry. `obj` fills the object's type, id and name unless they are given."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    return AuditEntry.objects.create(
        agency_id=agency_id,
        organization_id=organization_id,
        actor_id=actor.pk if actor is not None else None,
        actor_email=actor.email if actor is not None else "",
        actor_kind=actor_kind or _actor_kind(actor),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:200],
        changes=changes or {},
        ip=_ip.get(),
    )


def audited_field_set(
    *, obj: models.Model, field: str, value: Any, actor: User | None, action: str, agency_id: int | None
) -> None:
    """Set one field of `obj`'s row under its row lock and, when the value changed, record before and after
    in the same transaction (for a setting saved on its own, such as a client's notes or a top-up price)."""
    model = type(obj)
    with transaction.atomic():
        before = model._default_manager.select_for_update().values_list(field, flat=True).get(pk=obj.pk)
        model._default_manager.filter(pk=obj.pk).update(**{field: value})
        if before != value:
            audit_record(actor=actor, action=action, agency_id=agency_id, obj=obj, changes={field: [before, value]})

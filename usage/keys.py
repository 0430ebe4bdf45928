"""API keys: created and shown once, stored as a hash, looked up by hash, revoked."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from agencies import roles
from agencies.audit import audit_record
from agencies.models import Agency, Organization, Role, User
from core import db

from .models import ApiKey

KEY_START = "wlk_"
PREFIX_LENGTH = len(KEY_START) + 8
# last_used_at is written at most this often per key, so a busy key costs no write per request.
TOUCH_EVERY = timedelta(seconds=60)


def _digest(secret: str) -> str:
    # Keys carry 256 random bits: a fast hash cannot be brute-forced, so no slow KDF.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    secret: str  # the only time the whole key exists outside its owner's hands


def api_key_create(
    *,
    name: str,
    organization: Organization | None = None,
    agency: Agency | None = None,
    created_by=None,
) -> NewKey:
    roles.require_actor(created_by, agency="usage_sources", organization="api_keys")
    secret = KEY_START + secrets.token_urlsafe(32)
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            name=name.strip()[:100] or "API key",
            prefix=secret[:PREFIX_LENGTH],
            key_hash=_digest(secret),
            organization=organization,
            agency=agency,
            created_by=created_by,
        )
        # Only the key's name and non-secret prefix: the key itself is never logged.
        _audit(
            api_key,
            "api_key.create",
            actor=created_by,
            changes={"name": [None, api_key.name], "prefix": [None, api_key.prefix]},
        )
    return NewKey(api_key, secret)


def api_key_revoke(*, api_key: ApiKey, actor=None, reason: dict | None = None) -> ApiKey:
    """Revoke for good; revoking twice keeps the first time. `reason`: more changes for the audit entry
    (why the system revoked it)."""
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            _audit(api_key, "api_key.revoke", actor=actor, changes={"revoked": [False, True], **(reason or {})})
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def _audit(api_key: ApiKey, action: str, *, actor, changes: dict) -> None:
    organization = api_key.organization
    audit_record(
        actor=actor,
        action=action,
        agency_id=api_key.agency_id if organization is None else organization.agency_id,
        organization_id=api_key.organization_id,
        obj=api_key,
        object_repr=f"{api_key.name} ({api_key.prefix}…)",
        changes=changes,
    )


def api_keys_revoke_created_by(*, user: User) -> int:
    """Revoke the live keys `user` created, as the account goes (a member removed): a key whose creator
    is gone would otherwise act as owner (created_by empties). Each revocation is audited; how many."""
    live = ApiKey.objects.filter(created_by=user, revoked_at__isnull=True).select_related("organization")
    revoked = 0
    for api_key in live:
        api_key_revoke(api_key=api_key, reason={"created_by": [user.email, None]})
        revoked += 1
    return revoked


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """Who a presented key belongs to: an agency, or a client organization (and its agency), and the role
    it acts with."""

    api_key_id: int
    agency_id: int
    organization_id: int | None
    revoked: bool
    touch_due: bool  # last_used_at is older than TOUCH_EVERY
    # The role of the account that created the key, as it is now (a demotion applies at once); owner for a
    # key nobody signed in made (the system, the operator, the demo seed, or before roles existed).
    role: str


def api_key_find(*, secret: str) -> KeyOwner | None:
    """The owner of the key whose secret this is (revoked or not), and its creator's role, in one indexed query.

    Runs on every API request, so it is plain SQL (core.db).
    """
    if not secret.startswith(KEY_START) or len(secret) > 100:
        return None
    key = {
        field: f"k.{db.column(ApiKey, field)}"
        for field in ("agency", "organization", "created_by", "revoked_at", "last_used_at", "key_hash")
    }
    stale_before = connection.ops.adapt_datetimefield_value(timezone.now() - TOUCH_EVERY)
    # The first query of every API request, so it stands in for the connection's health check.
    rows = db.first_read(
        f"SELECT k.id, COALESCE({key['agency']}, o.{db.column(Organization, 'agency')}), {key['organization']}, "
        f"{key['revoked_at']} IS NOT NULL, {key['last_used_at']} IS NULL OR {key['last_used_at']} < %s, "
        f"u.{db.column(User, 'role')} "
        f"FROM {db.table(ApiKey)} k LEFT JOIN {db.table(Organization)} o ON o.id = {key['organization']} "
        f"LEFT JOIN {db.table(User)} u ON u.id = {key['created_by']} "
        f"WHERE {key['key_hash']} = %s",
        [stale_before, _digest(secret)],
    )
    row = rows[0] if rows else None
    if row is None:
        return None
    return KeyOwner(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5] or Role.OWNER)


def api_key_touch(*, owner: KeyOwner) -> None:
    """Record use, at most about once a minute per key."""
    if owner.touch_due:
        ApiKey.objects.filter(pk=owner.api_key_id).update(last_used_at=timezone.now())

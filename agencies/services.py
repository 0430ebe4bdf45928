"""Writes for agencies, their portals and their clients.

Every save that can change which host serves which agency forgets the cached
host lookups (agencies.tenancy) once its transaction commits (agency_save; the
console and Django admin both go through it).
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone

from . import domains, roles, tenancy
from .audit import audit_record, audited_field_set, changes_between, snapshot
from .models import Agency, CreditPackage, Organization, User

BRANDING_FIELDS = ["company_name", "logo_url", "primary_color", "accent_color", "slug"]
STRIPE_FIELDS = ["stripe_publishable_key", "stripe_product_id", "stripe_price_id"]
STRIPE_SECRET_FIELDS = ["stripe_secret_key", "stripe_webhook_secret"]


def agency_save(*, agency: Agency, old_hosts: set[str], fields: list[str] | None = None) -> None:
    """Save the agency; once the transaction commits, forget the cached lookups of its old and new hosts.

    After the commit, not before: a request served in between would cache the row as it was.
    """
    agency.save(update_fields=fields)
    transaction.on_commit(lambda: tenancy.forget_hosts(old_hosts | tenancy.agency_hosts(agency)))


def _save_and_forget(agency: Agency, *, old_hosts: set[str], fields: list[str]) -> None:
    agency_save(agency=agency, old_hosts=old_hosts, fields=fields)


def agency_create(*, company_name: str, admin: User) -> Agency:
    with transaction.atomic():
        agency = Agency.objects.create(company_name=company_name)
        admin.managed_agency = agency
        admin.save(update_fields=["managed_agency"])
    return agency


class SlugTaken(Exception):
    """Another agency took the slug between the form's check and our save."""


def agency_update_branding(*, agency: Agency, data: dict[str, Any], actor: User | None = None) -> Agency:
    old_hosts = tenancy.agency_hosts(agency)
    before = snapshot(agency, BRANDING_FIELDS)
    for field in BRANDING_FIELDS:
        setattr(agency, field, data[field])
    try:
        with transaction.atomic():
            _save_and_forget(agency, old_hosts=old_hosts, fields=BRANDING_FIELDS)
            changes = changes_between(before, snapshot(agency, BRANDING_FIELDS))
            if changes:
                audit_record(actor=actor, action="branding.change", agency_id=agency.pk, obj=agency, changes=changes)
    except IntegrityError:
        if Agency.objects.filter(slug=data["slug"]).exclude(pk=agency.pk).exists():
            raise SlugTaken(data["slug"]) from None
        raise
    return agency


@transaction.atomic
def agency_set_domain(*, agency: Agency, domain: str | None, actor: User | None = None) -> Agency:
    """Set, change or remove the custom domain. Any change unbinds the old one."""
    domain = domain or None
    if domain == agency.custom_domain:
        return agency
    audit_record(
        actor=actor,
        action="branding.domain",
        agency_id=agency.pk,
        obj=agency,
        changes={"custom_domain": [agency.custom_domain, domain]},
    )
    old_hosts = tenancy.agency_hosts(agency)
    agency.custom_domain = domain
    agency.domain_token = Agency.new_domain_token() if domain else ""
    agency.domain_status = Agency.DomainStatus.PENDING
    agency.domain_checked_at = None
    agency.domain_check_message = ""
    _save_and_forget(
        agency,
        old_hosts=old_hosts,
        fields=["custom_domain", "domain_token", "domain_status", "domain_checked_at", "domain_check_message"],
    )
    return agency


def _verified_elsewhere(agency: Agency) -> bool:
    # Lock the other claimants' rows so two agencies verifying the same domain
    # at once cannot both win (the unique constraint would turn that into a 500).
    return (
        Agency.objects.select_for_update()
        .filter(custom_domain=agency.custom_domain, domain_status=Agency.DomainStatus.VERIFIED)
        .exclude(pk=agency.pk)
        .exists()
    )


def agency_check_domain(*, agency: Agency) -> Agency:
    """Query DNS for the records the agency was asked to add; record the outcome."""
    if not agency.custom_domain:
        return agency
    # DNS queries are slow I/O: done before the transaction, not inside it.
    result = domains.check(agency.custom_domain, agency.domain_token)
    with transaction.atomic():
        locked = Agency.objects.select_for_update().get(pk=agency.pk)
        if locked.custom_domain != agency.custom_domain or locked.domain_token != agency.domain_token:
            return locked  # the domain changed while we were asking DNS
        # A DNS outage says nothing about the records: it must not take a live
        # verified domain offline. Record the attempt, keep the status.
        if result.ok and _verified_elsewhere(locked):
            result = domains.CheckResult(False, "Another portal has already verified this domain.")
        if not result.inconclusive:
            locked.domain_status = Agency.DomainStatus.VERIFIED if result.ok else Agency.DomainStatus.FAILED
        locked.domain_checked_at = timezone.now()
        locked.domain_check_message = result.message
        _save_and_forget(
            locked,
            old_hosts=set(),
            fields=["domain_status", "domain_checked_at", "domain_check_message"],
        )
    return locked


@transaction.atomic
def agency_update_stripe(*, agency: Agency, data: dict[str, Any], actor: User | None = None) -> Agency:
    """Save the Stripe settings; a blank secret keeps the stored one."""
    before = snapshot(agency, STRIPE_FIELDS + STRIPE_SECRET_FIELDS)
    fields = list(STRIPE_FIELDS)
    for field in STRIPE_FIELDS:
        setattr(agency, field, data[field])
    for field in STRIPE_SECRET_FIELDS:
        if data.get(field):
            setattr(agency, field, data[field])
            fields.append(field)
    _save_and_forget(agency, old_hosts=set(), fields=fields)
    changes = changes_between(
        before, snapshot(agency, STRIPE_FIELDS + STRIPE_SECRET_FIELDS), secret=STRIPE_SECRET_FIELDS
    )
    if changes:
        audit_record(actor=actor, action="stripe.settings", agency_id=agency.pk, obj=agency, changes=changes)
    return agency


# What the portal itself sets up on Stripe (billing.provisioning, billing.stripe_check), never typed by hand.
STRIPE_SETUP_FIELDS = {
    *STRIPE_FIELDS,
    *STRIPE_SECRET_FIELDS,
    "stripe_webhook_endpoint_id",
    "stripe_account_name",
    "stripe_checked_at",
    "stripe_check_problems",
}


@transaction.atomic
def agency_update_stripe_setup(*, agency: Agency, values: dict[str, Any]) -> Agency:
    """Store what provisioning or Check Stripe learnt (field -> value, among STRIPE_SETUP_FIELDS)."""
    unknown = set(values) - STRIPE_SETUP_FIELDS
    if unknown:
        raise ValueError(f"not Stripe set-up fields: {sorted(unknown)}")
    for name, value in values.items():
        setattr(agency, name, value)
    _save_and_forget(agency, old_hosts=set(), fields=list(values))
    return agency


def agency_secrets_rotate() -> tuple[int, list[int]]:
    """Re-encrypt every agency's stored secrets with the first FIELD_ENCRYPTION_KEYS key.

    Returns (agencies rotated, ids of agencies whose secrets no configured key
    decrypts). One short transaction per agency: a rerun is harmless, so a
    failure part-way loses nothing.
    """
    rotated, failed = 0, []
    with_secrets = Agency.objects.exclude(stripe_secret_key="", stripe_webhook_secret="")
    for pk in with_secrets.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            try:
                # Loading decrypts with any configured key; saving encrypts with the first.
                agency = Agency.objects.select_for_update().only("pk", *STRIPE_SECRET_FIELDS).get(pk=pk)
            except ValueError:
                failed.append(pk)
                continue
            agency.save(update_fields=STRIPE_SECRET_FIELDS)
        rotated += 1
    return rotated, failed


def activation_missing(agency: Agency) -> list[str]:
    """What the agency still has to fill in before its portal can go live.

    Stripe is set up in one of three ways: connected through Stripe Connect (the
    platform's key serves it; Stripe must let the account take charges), one key
    the portal provisioned (a webhook endpoint it registered, its secret stored),
    or the five values under "Advanced".
    """
    required = [("company_name", "Company name"), ("slug", "Portal slug")]
    missing = [label for field, label in required if not getattr(agency, field)]
    connected = bool(agency.stripe_account_id) and agency.stripe_disconnected_at is None
    provisioned = bool(agency.stripe_secret_key and agency.stripe_webhook_endpoint_id and agency.stripe_webhook_secret)
    if connected:
        if not agency.stripe_charges_enabled:
            missing.append("A connected Stripe account that can take payments (finish Stripe's onboarding)")
    elif not provisioned:
        if not agency.stripe_secret_key:
            missing.append("Stripe secret key")
        elif agency.stripe_webhook_endpoint_id:
            missing.append("Stripe set-up (save your key again on the Stripe page)")
        else:
            advanced = [
                ("stripe_publishable_key", "Stripe publishable key"),
                ("stripe_product_id", "Stripe product ID"),
                ("stripe_price_id", "Stripe price ID"),
                ("stripe_webhook_secret", "Stripe webhook signing secret"),
            ]
            missing += [label for field, label in advanced if not getattr(agency, field)]
    if not agency.packages.on_sale().exists():
        missing.append("At least one credit package")
    return missing


@transaction.atomic
def agency_set_active(*, agency: Agency, active: bool, actor: User | None = None) -> list[str]:
    """Switch the portal on or off. Returns what is missing when it refuses."""
    agency = Agency.objects.select_for_update().get(pk=agency.pk)
    if active:
        missing = activation_missing(agency)
        if missing:
            return missing
    if agency.is_active != active:
        audit_record(
            actor=actor,
            action="portal.activate" if active else "portal.deactivate",
            agency_id=agency.pk,
            obj=agency,
            changes={"is_active": [agency.is_active, active]},
        )
    agency.is_active = active
    _save_and_forget(agency, old_hosts=set(), fields=["is_active"])
    return []


PACKAGE_FIELDS = ["credits", "price_cents", "currency", "hidden"]


def _package_audit(*, actor: User | None, action: str, package: CreditPackage, changes: dict[str, list[Any]]) -> None:
    audit_record(actor=actor, action=action, agency_id=package.agency_id, obj=package, changes=changes)


def package_create(
    *, agency: Agency, credits: int, price_cents: int, currency: str, actor: User | None = None
) -> CreditPackage:
    """A new package on sale: last, once the agency has ordered its packages; until then they go by size."""
    with transaction.atomic():
        last = agency.packages.current().aggregate(last=Max("position"))["last"] or 0
        package = CreditPackage.objects.create(
            agency=agency, credits=credits, price_cents=price_cents, currency=currency, position=last + 1 if last else 0
        )
        changes = changes_between({}, snapshot(package, PACKAGE_FIELDS[:3]))
        _package_audit(actor=actor, action="package.create", package=package, changes=changes)
    return package


def package_update(
    *, package: CreditPackage, credits: int, price_cents: int, currency: str, actor: User | None = None
) -> CreditPackage:
    """Change a package; the package clients now see (the same one, or its new version).

    A package nobody bought is changed in place. One that was sold keeps its history: it is
    archived as it was (its purchases and invoices keep pointing at it) and the change is a new
    package in its place, hidden or not as it was. Stripe follows at the next provisioning
    (billing.provisioning: a new Price for the new amount, the old one archived).
    """
    if (package.credits, package.price_cents, package.currency) == (credits, price_cents, currency):
        return package
    with transaction.atomic():
        locked = CreditPackage.objects.select_for_update().get(pk=package.pk, archived_at__isnull=True)
        before = snapshot(locked, PACKAGE_FIELDS[:3])
        changes = changes_between(before, {"credits": credits, "price_cents": price_cents, "currency": currency})
        _package_audit(actor=actor, action="package.update", package=locked, changes=changes)
        if not CreditPackage.objects.filter(pk=locked.pk, purchases__isnull=False).exists():
            locked.credits, locked.price_cents, locked.currency = credits, price_cents, currency
            locked.save(update_fields=["credits", "price_cents", "currency"])
            return locked
        locked.archived_at = timezone.now()
        locked.save(update_fields=["archived_at"])
        return CreditPackage.objects.create(
            agency_id=locked.agency_id,
            credits=credits,
            price_cents=price_cents,
            currency=currency,
            hidden=locked.hidden,
            position=locked.position,
        )


def package_hide(*, package: CreditPackage, hidden: bool, actor: User | None = None) -> None:
    """Take a package off sale but keep it (hidden), or put it back on sale."""
    with transaction.atomic():
        changed = (
            CreditPackage.objects.filter(pk=package.pk, archived_at__isnull=True)
            .exclude(hidden=hidden)
            .update(hidden=hidden)
        )
        if changed:
            _package_audit(
                actor=actor,
                action="package.hide" if hidden else "package.show",
                package=package,
                changes={"hidden": [not hidden, hidden]},
            )


def package_move(*, package: CreditPackage, up: bool, actor: User | None = None) -> None:
    """Swap a package with its neighbour in the order clients see; the order is numbered 1.. from then on."""
    with transaction.atomic():
        Agency.objects.select_for_update().filter(pk=package.agency_id).first()  # one reorder at a time
        ordered = list(CreditPackage.objects.current().filter(agency_id=package.agency_id))
        index = next(i for i, p in enumerate(ordered) if p.pk == package.pk)
        other = index - 1 if up else index + 1
        if 0 <= other < len(ordered):
            ordered[index], ordered[other] = ordered[other], ordered[index]
        before = {row.pk: row.position for row in ordered}
        for position, row in enumerate(ordered, start=1):
            row.position = position
        CreditPackage.objects.bulk_update(ordered, ["position"])
        moved = next(row for row in ordered if row.pk == package.pk)
        if before[moved.pk] != moved.position:
            _package_audit(
                actor=actor,
                action="package.move",
                package=moved,
                changes={"position": [before[moved.pk], moved.position]},
            )


def package_remove(*, package: CreditPackage, actor: User | None = None) -> bool:
    """Take a package off sale. Returns True when it was deleted outright, False
    when it had been sold and was archived instead (its purchases keep it)."""
    changes = changes_between(snapshot(package, PACKAGE_FIELDS), {})
    try:
        with transaction.atomic():
            _package_audit(actor=actor, action="package.delete", package=package, changes=changes)
            package.delete()
        return True
    except ProtectedError:
        with transaction.atomic():
            _package_audit(actor=actor, action="package.delete", package=package, changes=changes)
            package.archived_at = timezone.now()
            package.save(update_fields=["archived_at"])
        return False


@transaction.atomic
def client_signup(*, user: User, agency: Agency, company_name: str) -> Organization:
    """Create the client's organization under the portal's agency, owned by `user`."""
    organization = Organization.objects.create(agency=agency, name=company_name, owner=user)
    user.agency = agency
    user.organization = organization
    user.save(update_fields=["agency", "organization"])
    return organization


def organization_notes_save(*, organization: Organization, notes: str, actor: User | None = None) -> None:
    """The agency's private notes on a client (logged in the agency's log only: the client never sees them)."""
    audited_field_set(
        obj=organization,
        field="notes",
        value=notes,
        actor=actor,
        action="client.notes",
        agency_id=organization.agency_id,
    )
    organization.notes = notes


def _client_audit(actor: User | None, action: str, organization: Organization, changes: dict[str, list[Any]]) -> None:
    audit_record(
        actor=actor,
        action=action,
        agency_id=organization.agency_id,
        organization_id=organization.pk,
        obj=organization,
        changes=changes,
    )


def organization_suspend(*, organization: Organization, actor: User, reason: str = "") -> bool:
    """Suspend a client: its calls are refused from now on. False when it was suspended already."""
    roles.require_actor(actor, agency="clients")
    now = timezone.now()
    with transaction.atomic():
        changed = Organization.objects.filter(pk=organization.pk, suspended_at__isnull=True).update(
            suspended_at=now, suspended_by=actor, suspension_reason=reason[:200]
        )
        if changed:
            _client_audit(
                actor, "client.suspend", organization, {"suspended": [False, True], "reason": ["", reason[:200]]}
            )
    if changed:
        organization.suspended_at, organization.suspended_by, organization.suspension_reason = now, actor, reason[:200]
    return bool(changed)


def organization_resume(*, organization: Organization, actor: User) -> bool:
    """Lift a suspension. False when the client was not suspended."""
    roles.require_actor(actor, agency="clients")
    now = timezone.now()
    with transaction.atomic():
        changed = Organization.objects.filter(pk=organization.pk, suspended_at__isnull=False).update(
            suspended_at=None, suspension_reason="", resumed_at=now, resumed_by=actor
        )
        if changed:
            _client_audit(actor, "client.resume", organization, {"suspended": [True, False]})
    if changed:
        organization.suspended_at, organization.suspension_reason = None, ""
        organization.resumed_at, organization.resumed_by = now, actor
    return bool(changed)

"""Customer writes: create (with its first onboarding link), update, assign users, offboard.

Consent-state transitions live in ``tenants.consent``; tenant confirmation in
``onboarding.confirmation``. Every write here is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import Alert, Incident
from microsoft import entra
from onboarding import links
from onboarding.models import ConsentRequest, OnboardingLink, PendingTenant
from sync.models import SyncRun, TenantSyncState
from tenants.consent import record_audit
from tenants.models import AuditAction, ConsentState, Customer

# Customer fields an administrator edits (the rest belong to onboarding and sync).
EDITABLE_FIELDS = ("name", "primary_domain", "contacts", "notes")

NAME_REQUIRED = "Enter a display name."
NAME_TAKEN = "A customer with this name already exists."
NAME_MAX_LENGTH = Customer._meta.get_field("name").max_length or 200


def normalize_name(name: str) -> str:
    """A customer display name as stored: runs of whitespace collapsed to one space, trimmed
    ("  Tailspin   Toys " → "Tailspin Toys")."""
    return " ".join((name or "").split())


def clean_customer_name(name: str, *, exclude_pk: int | None = None) -> str:
    """Normalise ``name`` (``normalize_name``) and check the naming rule: not empty, at most
    200 characters, and unique among customers ignoring case (the database enforces the same
    with the ``customer_name_ci_unique`` constraint). ``exclude_pk`` is the customer being
    renamed. Returns the normalised name.

    Raises django.core.exceptions.ValidationError (code "required", "max_length" or "unique")
    with a message fit for a form field or a command's error.
    """
    cleaned = normalize_name(name)
    if not cleaned:
        raise ValidationError(NAME_REQUIRED, code="required")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"The display name is longer than {NAME_MAX_LENGTH} characters.", code="max_length"
        )
    taken = Customer.objects.filter(name__iexact=cleaned)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError(NAME_TAKEN, code="unique")
    return cleaned


def create_customer(
    *,
    name: str,
    primary_domain: str = "",
    contacts: str = "",
    notes: str = "",
    actor: User | None = None,
    actor_label: str = "",
) -> Customer:
    """Create a pending customer and its first onboarding link; audit CUSTOMER_CREATED and
    LINK_CREATED. The name is normalised and checked by ``clean_customer_name``.

    Raises django.core.exceptions.ValidationError when the name is empty, too long or taken
    (ignoring case), including when a concurrent request took it first.
    """
    name = clean_customer_name(name)
    with transaction.atomic():
        try:
            with transaction.atomic():  # savepoint: the unique constraint may still fire
                customer = Customer.objects.create(
                    name=name,
                    primary_domain=primary_domain.strip().lower(),
                    contacts=contacts,
                    notes=notes,
                    created_by=actor if actor is not None and actor.is_authenticated else None,
                )
        except IntegrityError:
            raise ValidationError(NAME_TAKEN, code="unique") from None
        record_audit(
            customer=customer,
            action=AuditAction.CUSTOMER_CREATED,
            actor=actor,
            actor_label=actor_label,
            message=f"Customer {customer.name} created.",
            detail={"primary_domain": customer.primary_domain},
        )
        links.issue_link(customer=customer, actor=actor, actor_label=actor_label)
    return customer


def get_or_create_customer(
    *, name: str, actor: User | None = None, actor_label: str = ""
) -> tuple[Customer, bool]:
    """The customer named ``name`` (normalised by ``normalize_name``, compared ignoring case),
    creating it if absent.

    Returns (customer, created). Raises django.core.exceptions.ValidationError for an empty or
    too long name."""
    existing = Customer.objects.filter(name__iexact=normalize_name(name)).first()
    if existing is not None:
        return existing, False
    return create_customer(name=name, actor=actor, actor_label=actor_label), True


def update_customer(
    *,
    customer: Customer,
    actor: User | None = None,
    actor_label: str = "",
    **changes: str,
) -> Customer:
    """Change the administrator-editable fields (EDITABLE_FIELDS); audit CUSTOMER_UPDATED with
    the names of the fields that changed. A new name is normalised and checked by
    ``clean_customer_name``.

    Raises ValueError for any other field, django.core.exceptions.ValidationError when the new
    name is empty, too long or taken by another customer (ignoring case).
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    if "name" in changes:
        changes["name"] = clean_customer_name(changes["name"], exclude_pk=customer.pk)
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    if not changed:
        return customer
    before = {name: getattr(customer, name) for name in changed}
    with transaction.atomic():
        for name in changed:
            setattr(customer, name, changes[name])
        try:
            with transaction.atomic():  # savepoint: the unique constraint may still fire
                customer.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:
            for name, value in before.items():
                setattr(customer, name, value)
            raise ValidationError(NAME_TAKEN, code="unique") from None
        record_audit(
            customer=customer,
            action=AuditAction.CUSTOMER_UPDATED,
            actor=actor,
            actor_label=actor_label,
            message=f"Changed: {', '.join(changed)}.",
            detail={"fields": changed},
        )
    return customer


def set_assigned_users(
    *,
    customer: Customer,
    users: Iterable[User],
    actor: User | None = None,
    actor_label: str = "",
) -> Customer:
    """Make ``users`` exactly the users assigned to ``customer`` (the analysts who see its
    incidents through ``tenants.scoping``); audit CUSTOMER_UPDATED with detail
    ``{"fields": ["assigned_users"], "added": [usernames], "removed": [usernames]}`` when the set
    changed. Nothing is written when it did not."""
    wanted = {user.pk: user for user in users}
    with transaction.atomic():
        current = {user.pk: user for user in customer.assigned_users.all()}
        added = [wanted[pk] for pk in wanted.keys() - current.keys()]
        removed = [current[pk] for pk in current.keys() - wanted.keys()]
        if not added and not removed:
            return customer
        customer.assigned_users.set(list(wanted.values()))
        added_names = sorted(user.get_username() for user in added)
        removed_names = sorted(user.get_username() for user in removed)
        record_audit(
            customer=customer,
            action=AuditAction.CUSTOMER_UPDATED,
            actor=actor,
            actor_label=actor_label,
            message="Assigned users changed: "
            + "; ".join(
                part
                for part in (
                    f"added {', '.join(added_names)}" if added_names else "",
                    f"removed {', '.join(removed_names)}" if removed_names else "",
                )
                if part
            )
            + ".",
            detail={"fields": ["assigned_users"], "added": added_names, "removed": removed_names},
        )
    return customer


@dataclass(frozen=True)
class OffboardResult:
    """What offboarding removed (all zero when the data was kept)."""

    customer: Customer
    deleted_data: bool
    incidents: int = 0
    alerts: int = 0
    sync_runs: int = 0


def offboard_customer(
    *,
    customer: Customer,
    delete_data: bool,
    actor: User | None = None,
    actor_label: str = "",
) -> OffboardResult:
    """Disconnect ``customer``: state OFFBOARDED (sync only runs for CONNECTED customers), its
    onboarding links revoked and open consent requests consumed, all in one transaction.

    ``delete_data=True`` also deletes its incidents, alerts, sync history and sync state and
    unlinks its tenant ID (so the tenant may be onboarded again, for this or another
    customer). The tenant's cached tokens are dropped after commit. Audits OFFBOARDED.
    """
    now = timezone.now()
    counts = {"incidents": 0, "alerts": 0, "sync_runs": 0}
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        previous = customer.consent_state
        tenant_id = str(customer.tenant_id) if customer.tenant_id else None
        if delete_data:
            _, alerts = Alert.objects.filter(customer=customer).delete()
            _, incidents = Incident.objects.filter(customer=customer).delete()
            _, runs = SyncRun.objects.filter(customer=customer).delete()
            counts["alerts"] = alerts.get(Alert._meta.label, 0)
            counts["incidents"] = incidents.get(Incident._meta.label, 0)
            counts["sync_runs"] = runs.get(SyncRun._meta.label, 0)
            TenantSyncState.objects.filter(customer=customer).delete()
            customer.tenant_id = None
            customer.granted_roles = []
            customer.missing_roles = []
            customer.consent_given_at = None
            customer.last_confirmed_at = None
        customer.consent_state = ConsentState.OFFBOARDED
        customer.last_error_code = ""
        customer.last_error = ""
        customer.save()
        OnboardingLink.objects.filter(customer=customer, revoked_at__isnull=True).update(
            revoked_at=now
        )
        ConsentRequest.objects.filter(customer=customer, consumed_at__isnull=True).update(
            consumed_at=now, outcome="offboarded"
        )
        PendingTenant.objects.filter(customer=customer).delete()
        record_audit(
            customer=customer,
            action=AuditAction.OFFBOARDED,
            actor=actor,
            actor_label=actor_label,
            message="Offboarded; "
            + (
                f"deleted {counts['incidents']} incidents, {counts['alerts']} alerts and "
                f"{counts['sync_runs']} sync runs."
                if delete_data
                else "data kept."
            ),
            detail={
                "tenant_id": tenant_id,
                "previous_state": previous,
                "deleted_data": delete_data,
                **counts,
            },
        )
        if tenant_id:
            transaction.on_commit(lambda: entra.invalidate_token(tenant_id))
    return OffboardResult(customer=customer, deleted_data=delete_data, **counts)

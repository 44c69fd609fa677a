"""Customer writes: create (with its first onboarding link), update, offboard.

Consent-state transitions live in ``tenants.consent``; tenant confirmation in
``onboarding.confirmation``. Every write here is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
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
    LINK_CREATED. Raises django.db.IntegrityError if the name is taken."""
    with transaction.atomic():
        customer = Customer.objects.create(
            name=name.strip(),
            primary_domain=primary_domain.strip().lower(),
            contacts=contacts,
            notes=notes,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
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
    """The customer named ``name`` (exact, case-insensitive), creating it if absent.

    Returns (customer, created)."""
    existing = Customer.objects.filter(name__iexact=name.strip()).first()
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
    the names of the fields that changed. Raises ValueError for any other field."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    if not changed:
        return customer
    with transaction.atomic():
        for name in changed:
            setattr(customer, name, changes[name])
        customer.save(update_fields=[*changed, "updated_at"])
        record_audit(
            customer=customer,
            action=AuditAction.CUSTOMER_UPDATED,
            actor=actor,
            actor_label=actor_label,
            message=f"Changed: {', '.join(changed)}.",
            detail={"fields": changed},
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

"""factory_boy factories for the portal's models."""

from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.roles import ADMINISTRATORS, ANALYSTS
from incidents.models import SEVERITY_RANK, Alert, Incident
from tenants.models import ConsentState, Customer


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@mssp.example")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


def administrator(**kwargs: object):  # type: ignore[no-untyped-def]
    """An MSSP administrator (all customers, onboarding)."""
    return UserFactory(role=ADMINISTRATORS, is_staff=True, **kwargs)


def analyst(**kwargs: object):  # type: ignore[no-untyped-def]
    """An analyst who sees only assigned customers."""
    return UserFactory(role=ANALYSTS, **kwargs)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n:03d}")
    primary_domain = factory.LazyAttribute(lambda c: c.name.lower().replace(" ", "-") + ".example")


class ConnectedCustomerFactory(CustomerFactory):
    tenant_id = factory.LazyFunction(uuid.uuid4)
    consent_state = ConsentState.CONNECTED
    granted_roles = factory.LazyFunction(lambda: ["Incident.Read.All"])
    consent_given_at = factory.LazyFunction(timezone.now)
    last_confirmed_at = factory.LazyFunction(timezone.now)


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    customer = factory.SubFactory(ConnectedCustomerFactory)
    incident_id = factory.Sequence(lambda n: 1000 + n)
    name = factory.Sequence(lambda n: f"Suspicious activity {n}")
    severity = "Medium"
    severity_rank = factory.LazyAttribute(lambda i: SEVERITY_RANK.get(i.severity, 0))
    status = "Active"
    classification = "Unknown"
    determination = "NotAvailable"
    created_time = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    last_update_time = factory.LazyAttribute(lambda i: i.created_time)
    synced_at = factory.LazyFunction(timezone.now)
    search_text = factory.LazyAttribute(lambda i: i.name.lower())
    raw = factory.LazyAttribute(lambda i: {"incidentId": i.incident_id, "incidentName": i.name})


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    incident = factory.SubFactory(IncidentFactory)
    customer = factory.LazyAttribute(lambda a: a.incident.customer)
    alert_id = factory.Sequence(lambda n: f"da{n:018d}_1")
    title = "Suspicious PowerShell command line"
    severity = "Medium"
    status = "New"
    category = "Execution"
    service_source = "MicrosoftDefenderForEndpoint"
    detection_source = "WindowsDefenderAtp"
    raw = factory.LazyAttribute(lambda a: {"alertId": a.alert_id, "title": a.title})

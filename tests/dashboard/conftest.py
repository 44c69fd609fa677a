"""Fixtures of the dashboard tests: incidents of customer_a and customer_b."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.factories import AlertFactory, IncidentFactory


@pytest.fixture
def incident_a(customer_a: Any) -> Any:
    """A high-severity incident of Contoso (customer_a) with one alert."""
    incident = IncidentFactory(
        customer=customer_a,
        incident_id=501,
        name="Contoso ransomware on fin-ws-01",
        severity="High",
        search_text="contoso ransomware on fin-ws-01 10.0.0.5 alice@contoso.example",
        service_sources=["MicrosoftDefenderForEndpoint"],
        service_sources_key="|MicrosoftDefenderForEndpoint|",
        alert_count=1,
        created_time=timezone.now() - timedelta(hours=2),
    )
    AlertFactory(incident=incident, title="Ransomware behaviour detected")
    return incident


@pytest.fixture
def incident_b(customer_b: Any) -> Any:
    """A medium-severity incident of Fabrikam (customer_b)."""
    return IncidentFactory(
        customer=customer_b,
        incident_id=601,
        name="Fabrikam phishing mail delivered",
        severity="Medium",
        search_text="fabrikam phishing mail delivered bob@fabrikam.example",
        service_sources=["MicrosoftDefenderForOffice365"],
        service_sources_key="|MicrosoftDefenderForOffice365|",
        alert_count=2,
        created_time=timezone.now() - timedelta(hours=3),
    )

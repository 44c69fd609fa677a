"""Incident detail: every field, tags, comments, alerts with devices and entities (doc and
live styles), raw payload on demand, Defender link, merged incidents."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.presenters import device_facts, entity_facts
from tests.factories import AlertFactory, IncidentFactory

pytestmark = pytest.mark.django_db

DOC_IP = {
    "entityType": "Ip",
    "sha1": None,
    "sha256": None,
    "fileName": None,
    "filePath": None,
    "processId": None,
    "processCommandLine": None,
    "ipAddress": "198.51.100.23",
    "url": None,
    "accountName": None,
    "userPrincipalName": None,
    "mailboxDisplayName": None,
}
LIVE_MAILBOX = {
    "entityType": "Mailbox",
    "evidenceCreationTime": "2025-02-17T11:02:05.0533333Z",
    "verdict": "Suspicious",
    "remediationStatus": "None",
    "accountName": "j.kowalski",
    "userPrincipalName": "j.kowalski@fabrikam-demo.example",
    "mailboxDisplayName": "Jan Kowalski",
    "mailboxAddress": "j.kowalski@fabrikam-demo.example",
}
DOC_MAILBOX = {
    "entityType": "MailBox",
    "mailboxDisplayName": "Ana Silva",
    "mailboxAddress": "ana@x.example",
    "url": None,
}
FILE = {
    "entityType": "File",
    "verdict": "Malicious",
    "remediationStatus": "Prevented",
    "fileName": "invoice_0217.docm",
    "sha256": "ab" * 32,
}
PROCESS = {
    "entityType": "Process",
    "processId": 4242,
    "processCommandLine": "powershell -enc AAA",
    "fileName": "powershell.exe",
    "parentProcessId": 100,
}
USER = {
    "entityType": "User",
    "accountName": "alice",
    "domainName": "CONTOSO",
    "userPrincipalName": "alice@contoso.example",
    "aadUserId": None,
}
URL = {"entityType": "Url", "url": "https://phish.example/login"}
DEVICE = {
    "mdatpDeviceId": "7c1e4a9b2d3f4e5a6b7c8d9e0f1a2b3c4d5e6f70",
    "aadDeviceId": None,
    "deviceDnsName": "fin-ws-017.fabrikam-demo.example",
    "osPlatform": "Windows11",
    "version": "23H2",
    "osProcessor": "x64",
    "osBuild": 22631,
    "healthStatus": "Active",
    "riskScore": "High",
    "rbacGroupName": "Finance",
    "firstSeen": "2024-06-03T08:11:47.612Z",
}


@pytest.fixture
def full_incident(customer_a: Any) -> Any:
    incident = IncidentFactory(
        customer=customer_a,
        incident_id=48240,
        name="Malicious attachment opened on one endpoint",
        severity="High",
        status="InProgress",
        classification="TruePositive",
        determination="Malware",
        assigned_to="soc@contoso.example",
        tags=["demo", "vip"],
        comments=[
            {
                "comment": "Isolating the device.",
                "createdBy": "soc@contoso.example",
                "createdTime": "2025-02-17T11:20:48Z",
            }
        ],
        alert_count=2,
        service_sources=["MicrosoftDefenderForEndpoint", "MicrosoftDefenderForOffice365"],
        incident_uri="https://security.microsoft.com/incidents/48240?tid=t",
        raw={"incidentId": 48240, "incidentName": "Malicious attachment", "unknownKey": "kept"},
    )
    AlertFactory(
        incident=incident,
        alert_id="da638754033251234567_1288344712",
        title="Document macro launched a script host",
        severity="High",
        category="Execution",
        mitre_techniques=["T1204.002", "T1059.001"],
        detection_source="WindowsDefenderAtp",
        service_source="MicrosoftDefenderForEndpoint",
        first_activity=timezone.now() - timedelta(hours=3),
        last_activity=timezone.now() - timedelta(hours=2),
        devices=[DEVICE],
        entities=[LIVE_MAILBOX, FILE, PROCESS, DOC_IP],
        raw={"alertId": "da638754033251234567_1288344712", "providerAlertId": "x"},
    )
    AlertFactory(
        incident=incident,
        title="Email with malicious URL",
        severity="Medium",
        category="InitialAccess",
        service_source="MicrosoftDefenderForOffice365",
        detection_source="OfficeATP",
        entities=[DOC_MAILBOX, USER, URL],
    )
    return incident


def test_detail_shows_every_field_and_the_alerts(
    client: Any, admin_user: Any, full_incident: Any
) -> None:
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:detail", args=[full_incident.pk])).content.decode()
    for text in [
        "Malicious attachment opened on one endpoint",
        "48240",
        "In progress",
        "True positive",
        "Malware",
        "soc@contoso.example",
        "Defender for Endpoint",
        "Defender for Office 365",
        '<span class="badge">demo</span>',
        '<span class="badge">vip</span>',
        "Isolating the device.",
        "2025-02-17T11:20:48Z",
        'href="https://security.microsoft.com/incidents/48240?tid=t"',
        "Document macro launched a script host",
        "Email with malicious URL",
        '<span class="badge mitre">T1204.002</span>',
        '<span class="badge mitre">T1059.001</span>',
        "WindowsDefenderAtp",
        "OfficeATP",
        "Execution",
        "Initial access",
        "fin-ws-017.fabrikam-demo.example",
        "Windows11",
        "Finance",
        "Jan Kowalski",
        "j.kowalski@fabrikam-demo.example",
        "invoice_0217.docm",
        "powershell -enc AAA",
        "198.51.100.23",
        "Ana Silva",
        "alice@contoso.example",
        "https://phish.example/login",
        "Suspicious",
        "Malicious",
        "Prevented",
        "Alerts (2)",
        "Comments (1)",
    ]:
        assert text in html, text
    assert html.count('<span class="ev-kind">Mailbox</span>') == 2  # MailBox and Mailbox
    assert 'hx-trigger="toggle once"' in html


def test_raw_payload_is_served_as_json_with_alerts(
    client: Any, admin_user: Any, full_incident: Any
) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("dashboard:raw", args=[full_incident.pk]))
    assert response["Content-Type"] == "application/json"
    payload = json.loads(response.content)
    assert payload["unknownKey"] == "kept"
    assert payload["alerts"][0]["providerAlertId"] == "x"
    fragment = client.get(reverse("dashboard:raw", args=[full_incident.pk]), HTTP_HX_REQUEST="true")
    assert '<pre class="raw-json"' in fragment.content.decode()
    assert "&quot;unknownKey&quot;: &quot;kept&quot;" in fragment.content.decode()


def test_merged_incident_links_to_its_local_target(
    client: Any, admin_user: Any, customer_a: Any
) -> None:
    target = IncidentFactory(customer=customer_a, incident_id=900, name="The surviving incident")
    merged = IncidentFactory(customer=customer_a, status="Redirected", redirect_incident_id=900)
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:detail", args=[merged.pk])).content.decode()
    assert "This incident was merged into" in html
    target_url = reverse("dashboard:detail", args=[target.pk])
    assert f'href="{target_url}">incident 900: The surviving incident</a>' in html


def test_merged_incident_target_of_same_id_in_another_tenant_is_not_used(
    client: Any, admin_user: Any, customer_a: Any, customer_b: Any
) -> None:
    IncidentFactory(customer=customer_b, incident_id=901, name="Other tenant's 901")
    merged = IncidentFactory(customer=customer_a, status="Redirected", redirect_incident_id=901)
    client.force_login(admin_user)
    html = client.get(reverse("dashboard:detail", args=[merged.pk])).content.decode()
    assert "Other tenant's 901" not in html
    assert "incident 901, which has not been synced yet." in html


def test_unknown_incident_is_404(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    assert client.get(reverse("dashboard:detail", args=[999999])).status_code == 404


def test_entity_facts_accept_doc_and_live_styles() -> None:
    doc = entity_facts(DOC_IP)
    assert (doc.kind, doc.title, doc.facts) == (
        "IP address",
        "198.51.100.23",
        [("IP address", "198.51.100.23")],
    )
    live = entity_facts(LIVE_MAILBOX)
    assert live.kind == "Mailbox"
    assert live.title == "Jan Kowalski"
    assert live.verdict == "Suspicious"
    assert ("Address", "j.kowalski@fabrikam-demo.example") in live.facts
    assert entity_facts(DOC_MAILBOX).kind == "Mailbox"
    unknown = entity_facts({"entityType": "CloudApplication", "appName": "Box"})
    assert (unknown.kind, unknown.facts) == ("CloudApplication", [("appName", "Box")])


def test_device_facts_accept_either_device_id_key() -> None:
    facts = device_facts(DEVICE)
    assert facts.title == "fin-ws-017.fabrikam-demo.example"
    assert ("Device ID", DEVICE["mdatpDeviceId"]) in facts.facts
    assert ("Build", "22631") in facts.facts
    assert device_facts({"DeviceId": "abc"}).title == "abc"


def test_detail_leaves_the_stored_payloads_in_the_database(
    admin_user: Any, incident_a: Any
) -> None:
    """The page shows the payload through the raw view on demand; the detail read defers it
    (the page's query count, in test_query_counts, proves the template never reads it)."""
    from dashboard.selectors import incident_detail

    incident = incident_detail(admin_user, incident_a.pk)
    assert incident is not None
    assert incident.get_deferred_fields() == {"raw", "search_text"}
    assert [a.get_deferred_fields() for a in incident.alerts.all()] == [{"raw"}]

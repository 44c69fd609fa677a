"""Payload samples for the incidents tests: the contract's §5.9 page (doc + live style)."""

from __future__ import annotations

import copy
from typing import Any

TENANT = "0f3a9c2e-7d41-4e8b-a5c6-91b2d3e4f5a6"
OTHER_TENANT = "11111111-2222-4333-8444-555555555555"

_DOC_INCIDENT: dict[str, Any] = {
    "incidentId": 48213,
    "redirectIncidentId": None,
    "incidentName": "Activity from an anonymous proxy involving one user",
    "createdTime": "2025-02-17T09:14:22.5633333Z",
    "lastUpdateTime": "2025-02-17T09:14:22.71Z",
    "assignedTo": None,
    "classification": "Unknown",
    "determination": "NotAvailable",
    "status": "Active",
    "severity": "Low",
    "tags": [],
    "comments": [],
    "alerts": [
        {
            "alertId": "ca5B1E7A90-3C44-4D2F-8E61-7F0A2B9C4D13",
            "incidentId": 48213,
            "serviceSource": "MicrosoftCloudAppSecurity",
            "creationTime": "2025-02-17T09:14:21.9817734Z",
            "lastUpdatedTime": "2025-02-17T09:14:22.6966667Z",
            "resolvedTime": None,
            "firstActivity": "2025-02-17T08:58:40Z",
            "lastActivity": "2025-02-17T08:58:40Z",
            "title": "Activity from an anonymous proxy",
            "description": "Synthetic sample.",
            "category": "InitialAccess",
            "status": "New",
            "severity": "Low",
            "investigationId": None,
            "investigationState": "UnsupportedAlertType",
            "classification": None,
            "determination": None,
            "detectionSource": "MCAS",
            "assignedTo": None,
            "actorName": None,
            "threatFamilyName": None,
            "mitreTechniques": [],
            "devices": [],
            "entities": [
                {
                    "entityType": "Ip",
                    "sha1": None,
                    "sha256": None,
                    "fileName": None,
                    "filePath": None,
                    "processId": None,
                    "processCommandLine": None,
                    "processCreationTime": None,
                    "parentProcessId": None,
                    "parentProcessCreationTime": None,
                    "ipAddress": "198.51.100.23",
                    "url": None,
                    "accountName": None,
                    "domainName": None,
                    "userSid": None,
                    "aadUserId": None,
                    "userPrincipalName": None,
                    "mailboxDisplayName": None,
                    "mailboxAddress": None,
                    "clusterBy": None,
                    "sender": None,
                    "recipient": None,
                    "subject": None,
                    "deliveryAction": None,
                    "securityGroupId": None,
                    "securityGroupName": None,
                    "registryHive": None,
                    "registryKey": None,
                    "registryValueType": None,
                    "registryValue": None,
                    "deviceId": None,
                },
                {
                    "entityType": "MailBox",
                    "mailboxAddress": "Anna.Doc@Contoso-Demo.example",
                    "userPrincipalName": None,
                },
            ],
        }
    ],
}

_LIVE_INCIDENT: dict[str, Any] = {
    "incidentId": 48240,
    "incidentUri": f"https://security.microsoft.com/incidents/48240?tid={TENANT}",
    "redirectIncidentId": None,
    "incidentName": "Malicious attachment opened on one endpoint",
    "createdTime": "2025-02-17T11:02:05.1Z",
    "lastUpdateTime": "2025-02-17T11:20:48.4033333Z",
    "assignedTo": "soc@fabrikam-demo.example",
    "classification": "Unknown",
    "determination": "NotAvailable",
    "status": "InProgress",
    "severity": "High",
    "tags": ["demo"],
    "comments": [],
    "alerts": [
        {
            "alertId": "da638754033251234567_1288344712",
            "providerAlertId": "da638754033251234567_1288344712",
            "incidentId": 48240,
            "serviceSource": "MicrosoftDefenderForEndpoint",
            "creationTime": "2025-02-17T11:02:04.8870412Z",
            "lastUpdatedTime": "2025-02-17T11:19:55.56Z",
            "resolvedTime": None,
            "firstActivity": "2025-02-17T10:57:31.0416215Z",
            "lastActivity": "2025-02-17T10:57:33.9020074Z",
            "title": "Document macro launched a script host",
            "description": "Synthetic sample.",
            "category": "Execution",
            "status": "InProgress",
            "severity": "High",
            "investigationId": 9021,
            "investigationState": "Running",
            "classification": None,
            "determination": None,
            "detectionSource": "WindowsDefenderAtp",
            "detectorId": "3f1d2c4b-8a7e-4e3b-9c1d-5a6b7c8d9e0f",
            "assignedTo": None,
            "actorName": None,
            "threatFamilyName": None,
            "mitreTechniques": ["T1204.002"],
            "devices": [
                {
                    "mdatpDeviceId": "7c1e4a9b2d3f4e5a6b7c8d9e0f1a2b3c4d5e6f70",
                    "aadDeviceId": "a2b4c6d8-1357-4e9f-8a0b-2c4d6e8f0a1b",
                    "deviceDnsName": "fin-ws-017.fabrikam-demo.example",
                    "osPlatform": "Windows11",
                    "version": "23H2",
                    "osProcessor": "x64",
                    "osBuild": 22631,
                    "healthStatus": "Active",
                    "riskScore": "High",
                    "rbacGroupName": "Finance",
                    "rbacGroupId": 42,
                    "firstSeen": "2024-06-03T08:11:47.612Z",
                    "tags": [],
                    "defenderAvStatus": "Updated",
                    "onboardingStatus": "Onboarded",
                    "vmMetadata": None,
                }
            ],
            "entities": [
                {
                    "entityType": "Mailbox",
                    "evidenceCreationTime": "2025-02-17T11:02:05.0533333Z",
                    "verdict": "Suspicious",
                    "remediationStatus": "None",
                    "accountName": "j.kowalski",
                    "userPrincipalName": "j.kowalski@fabrikam-demo.example",
                    "mailboxDisplayName": "Jan Kowalski",
                    "mailboxAddress": "j.kowalski@fabrikam-demo.example",
                },
                {
                    "entityType": "File",
                    "evidenceCreationTime": "2025-02-17T11:02:05.0533333Z",
                    "verdict": "Malicious",
                    "remediationStatus": "Prevented",
                    "fileName": "invoice_0217.docm",
                    "DeviceId": "7c1e4a9b2d3f4e5a6b7c8d9e0f1a2b3c4d5e6f70",
                },
                {"entityType": "Url", "url": "https://phish.example/login"},
            ],
        }
    ],
}


def doc_incident(**changes: Any) -> dict[str, Any]:
    """The §5.9 doc-style incident (a deep copy), with top-level ``changes``."""
    incident = copy.deepcopy(_DOC_INCIDENT)
    incident.update(changes)
    return incident


def live_incident(**changes: Any) -> dict[str, Any]:
    """The §5.9 live-style incident (a deep copy), with top-level ``changes``."""
    incident = copy.deepcopy(_LIVE_INCIDENT)
    incident.update(changes)
    return incident


def page() -> list[dict[str, Any]]:
    """The §5.9 page's ``value``: doc-style then live-style incident."""
    return [doc_incident(), live_incident()]

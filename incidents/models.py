"""Local copy of Defender XDR incidents and their alerts (contract §5.3–§5.6).

Enum values are stored as the strings Microsoft sends (spellings vary between docs and live,
§5.7), so an unknown value is kept, not rejected. ``raw`` keeps the full payload Microsoft sent,
including keys this schema does not know.
"""

from __future__ import annotations

from django.db import models

from tenants.models import Customer

# Severity order used for sorting and summaries (Defender API: UnSpecified .. High).
SEVERITY_RANK = {"High": 4, "Medium": 3, "Low": 2, "Informational": 1, "UnSpecified": 0}


class Severity(models.TextChoices):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"
    INFORMATIONAL = "Informational"
    UNSPECIFIED = "UnSpecified", "Unspecified"


class IncidentStatus(models.TextChoices):
    ACTIVE = "Active"
    IN_PROGRESS = "InProgress", "In progress"
    RESOLVED = "Resolved"
    REDIRECTED = "Redirected", "Redirected (merged)"


class Classification(models.TextChoices):
    UNKNOWN = "Unknown"
    TRUE_POSITIVE = "TruePositive", "True positive"
    FALSE_POSITIVE = "FalsePositive", "False positive"
    INFORMATIONAL_EXPECTED = "InformationalExpectedActivity", "Informational, expected activity"


class Incident(models.Model):
    """A Defender XDR incident of one customer tenant; unique by (customer, incident_id)."""

    # No index of its own: (customer, incident_id)'s unique index leads with it, and the sync
    # pays for every index on each insert.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="incidents", db_index=False
    )
    incident_id = models.BigIntegerField()
    name = models.CharField(max_length=500)
    severity = models.CharField(max_length=20)
    # SEVERITY_RANK of ``severity`` (unknown values rank 0), for sorting.
    severity_rank = models.SmallIntegerField(default=0)
    status = models.CharField(max_length=20)
    classification = models.CharField(max_length=40, blank=True)
    determination = models.CharField(max_length=40, blank=True)
    assigned_to = models.CharField(max_length=320, blank=True)
    created_time = models.DateTimeField()
    last_update_time = models.DateTimeField()
    # Target of a merge (status "Redirected"); resolve within the same customer.
    redirect_incident_id = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    comments = models.JSONField(default=list, blank=True)
    alert_count = models.PositiveIntegerField(default=0)
    # Distinct alert serviceSource values, sorted, e.g. ["MicrosoftDefenderForEndpoint"].
    service_sources = models.JSONField(default=list, blank=True)
    # The same values as "|A|B|", so a portable ``contains`` filter can match one source.
    service_sources_key = models.CharField(max_length=500, blank=True)
    # Lowercased text of incident name, alert titles, users, mailboxes, devices and IPs.
    search_text = models.TextField(blank=True)
    # Link to the incident in the Defender portal (sent live as incidentUri; built if absent).
    incident_uri = models.CharField(max_length=500, blank=True)
    # The incident payload as received, without "alerts" (each alert keeps its own raw).
    raw = models.JSONField(default=dict)
    first_synced_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "incident_id"], name="incident_unique_per_tenant"
            )
        ]
        indexes = [
            models.Index(fields=["-created_time", "-id"], name="incident_created_idx"),
            models.Index(fields=["-last_update_time", "-id"], name="incident_updated_idx"),
            models.Index(
                fields=["-severity_rank", "-created_time", "-id"], name="incident_severity_idx"
            ),
            models.Index(fields=["customer", "status", "severity_rank"], name="incident_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.name}"


class Alert(models.Model):
    """An alert of an incident; unique by (customer, alert_id). Devices and entities as sent."""

    # No index of its own: (customer, alert_id)'s unique index leads with it.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="alerts", db_index=False
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    alert_id = models.CharField(max_length=200)
    title = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, blank=True)
    category = models.CharField(max_length=100, blank=True)
    service_source = models.CharField(max_length=100, blank=True)
    detection_source = models.CharField(max_length=100, blank=True)
    classification = models.CharField(max_length=40, blank=True)
    determination = models.CharField(max_length=40, blank=True)
    assigned_to = models.CharField(max_length=320, blank=True)
    mitre_techniques = models.JSONField(default=list, blank=True)
    creation_time = models.DateTimeField(null=True, blank=True)
    last_updated_time = models.DateTimeField(null=True, blank=True)
    first_activity = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField(null=True, blank=True)
    resolved_time = models.DateTimeField(null=True, blank=True)
    # Device objects (§5.5) and entity objects (§5.6) exactly as received.
    devices = models.JSONField(default=list, blank=True)
    entities = models.JSONField(default=list, blank=True)
    raw = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "alert_id"], name="alert_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.title}"

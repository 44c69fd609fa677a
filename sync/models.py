"""Per-tenant sync state (watermark, schedule) and the sync history."""

from __future__ import annotations

from django.db import models

from tenants.models import Customer


class TenantSyncState(models.Model):
    """Where a tenant's incremental sync stands. One row per customer.

    ``watermark``: every incident whose ``lastUpdateTime`` is before it is stored. It only
    moves forward, and only when a *pass* (a full paging of ``lastUpdateTime ge <watermark -
    overlap>``) has stored all its pages; see ``sync.services`` for why it may not move after
    each page. The ``pass_*`` fields are the checkpoint of the pass in progress, written in the
    same transaction as each stored page, so a sync stopped anywhere (worker killed, time box,
    429) resumes after the last stored page and loses nothing.
    """

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="sync_state")
    watermark = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # No call may go to this tenant before this time (a 429's Retry-After).
    throttled_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=20, blank=True)
    last_error = models.TextField(blank=True)
    # Checkpoint of the pass in progress (all null/empty when none is).
    # Lower bound of the pass's $filter (watermark - overlap, or the backfill start).
    pass_filter_from = models.DateTimeField(null=True, blank=True)
    # When the pass began (the earlier of the portal's clock and the API's Date header).
    pass_started_at = models.DateTimeField(null=True, blank=True)
    # Rows of the pass stored so far (the next $skip) and the next link to follow, if any.
    pass_skip = models.PositiveIntegerField(default=0)
    pass_next_link = models.TextField(blank=True)
    # Newest lastUpdateTime seen in the pass's stored pages.
    pass_max_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("run_sync", "Can start a sync now")]

    def __str__(self) -> str:
        return f"sync state of {self.customer_id}"


class SyncOutcome(models.TextChoices):
    """How a sync run ended (``SyncRun.outcome``, ``TenantSyncState.last_outcome``).

    RUNNING while under way; THROTTLED (Defender API 429, or the tenant still throttled) and
    PARTIAL (the run's time box was reached) are requeued and continue from where they stopped;
    SKIPPED when the customer is not connected or another worker holds its sync lock; STOPPED
    when the customer was offboarded or disconnected mid-run.
    """

    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    THROTTLED = "throttled", "Throttled, will resume"
    PARTIAL = "partial", "Paused, continuing"
    SKIPPED = "skipped", "Skipped"
    # The customer was offboarded or lost its connection while the run was under way.
    STOPPED = "stopped", "Stopped: customer disconnected"


class SyncTrigger(models.TextChoices):
    """What started a sync run: the beat schedule, a user's "Sync now", or the
    ``sync_incidents`` command."""

    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Sync now"
    COMMAND = "command", "Command line"


class SyncRun(models.Model):
    """One sync of one tenant, with its figures, for the tenant page and logs."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=20, choices=SyncTrigger.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=20, choices=SyncOutcome.choices, default=SyncOutcome.RUNNING
    )
    pages = models.PositiveIntegerField(default=0)
    incidents_created = models.PositiveIntegerField(default=0)
    incidents_updated = models.PositiveIntegerField(default=0)
    # Incidents received again without any change (the overlap window, repeated pages).
    incidents_unchanged = models.PositiveIntegerField(default=0)
    alerts_upserted = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    token_requests = models.PositiveIntegerField(default=0)
    throttled_waits = models.PositiveIntegerField(default=0)
    # Seconds spent waiting for the limiter or a Retry-After.
    throttled_seconds = models.FloatField(default=0)
    error_code = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)
    # True when this run continued a pass an earlier run had started.
    resumed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["customer", "-started_at"], name="syncrun_customer_idx")]

    def __str__(self) -> str:
        return f"sync of {self.customer_id} at {self.started_at:%Y-%m-%d %H:%M}"

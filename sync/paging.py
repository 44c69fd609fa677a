"""Paging through one tenant's incidents: a *pass*, its checkpoint and the watermark.

A pass pages through ``GET /api/incidents?$filter=lastUpdateTime ge <from>&$top=100&$skip=<n>``
(following ``@odata.nextLink`` when the API sends one) until a page has fewer than 100 rows.
Each page is validated completely (``incidents.parsing``) and then stored in one transaction
together with the pass checkpoint and the run's figures (``incidents.upsert``).

Why the watermark only moves when a whole pass is stored
--------------------------------------------------------
The API orders by ``createdTime`` desc, not by ``lastUpdateTime``, so the newest update time on
page 1 says nothing about what pages 2..n hold: moving the watermark after each page could skip
every later page forever. So a *pass* reads the whole result set for a fixed
``$filter=lastUpdateTime ge F`` and only when its last page is stored does the watermark become
``min(newest lastUpdateTime seen, pass start)``. That loses nothing, even while Microsoft's data
changes during the pass:

* ``createdTime`` and ``incidentId`` never change and ``lastUpdateTime`` only grows, so rows
  already in the result set keep their position and never leave it; rows that enter it (new or
  newly updated incidents) only push later rows further down. ``$skip`` paging can therefore
  show a row twice (harmless: the upsert is idempotent and ignores older copies) but never skips
  a row that was in the set when the pass began.
* A row that changed after the pass began has ``lastUpdateTime`` >= the pass start, which is
  >= the new watermark, so the next pass reads it even if this pass missed it. The pass start is
  the earlier of the portal's clock and the API's ``Date`` header, and every request subtracts
  ``SYNC_OVERLAP_SECONDS`` from the watermark, covering clock skew between the two.

The pass checkpoint (``TenantSyncState.pass_*``: filter, next ``$skip`` or next link, newest
time seen, start) is written in the same transaction as each page. A sync stopped anywhere (a
killed worker, the ``SYNC_RUN_MAX_SECONDS`` time box, a 429) resumes after the last stored page
of the same pass; by the argument above a resumed pass is as complete as an uninterrupted one.
After its first 1,000 new incidents, then every 10,000, the run refreshes PostgreSQL's
statistics of the incident tables (``incidents.upsert.StatisticsKeeper``) so a large backfill
keeps fast query plans.

A pass older than PASS_MAX_AGE is restarted from its first page (bounding the effect of
incidents deleted on Microsoft's side, which would shift rows up).

Each page's transaction first locks the customer row (``SELECT .. FOR NO KEY UPDATE``) and
checks that the customer is still connected to the same tenant. Offboarding locks the same row
(``tenants.services.offboard_customer``), so the two never interleave: a customer offboarded
(with or without its data) while its sync runs gets no further page stored, and a page stored
just before the offboarding is deleted with the rest (CustomerDisconnected ends the run).

Why a page's commit need not wait for the disk
----------------------------------------------
Each page's transaction commits with ``synchronous_commit = off`` (``upsert_incidents(...,
durable=False)``; PostgreSQL only): COMMIT returns before the WAL is flushed to disk, which
saves a flush per page. Only a crash of the database server (or its machine) can then lose
commits, at most the last ~0.6 s (3 x wal_writer_delay), and never part of one: recovery
replays the WAL in order, so what survives is every transaction up to some point. A lost
page transaction takes its checkpoint (``pass_skip`` / next link / newest time seen, and the
watermark at the end of a pass) with it, so the checkpoint that survives points at the first
lost page and the next run fetches that page again from the API; the upsert is idempotent, so
pages fetched twice store the same rows. Nothing outside the database depends on the commit
(the Defender API is only read; the run's figures are informational). The run's final
bookkeeping (``sync.services``) commits normally.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents.parsing import parse_incident_page
from incidents.payload import format_filter_datetime
from incidents.upsert import StatisticsKeeper, upsert_incidents
from microsoft.defender import MAX_PAGE_SIZE, DefenderClient, same_origin
from sync.models import SyncRun, TenantSyncState
from tenants.models import Customer

logger = logging.getLogger(__name__)

# A pass older than this restarts from its first page instead of resuming.
PASS_MAX_AGE = timedelta(hours=12)
# TenantSyncState fields of the pass checkpoint, and SyncRun fields of a run's figures.
_PASS_FIELDS = [
    "pass_filter_from",
    "pass_started_at",
    "pass_skip",
    "pass_next_link",
    "pass_max_seen",
]
RUN_FIGURES = [
    "pages",
    "incidents_created",
    "incidents_updated",
    "incidents_unchanged",
    "alerts_upserted",
    "api_calls",
    "token_requests",
    "throttled_waits",
    "throttled_seconds",
]


@dataclass
class Progress:
    """What a run has stored so far (pages and incident/alert counts); ``pass_done`` once the
    pass's last page is stored."""

    pages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    alerts: int = 0
    pass_done: bool = False


class TimeBoxReached(Exception):
    """The run used SYNC_RUN_MAX_SECONDS; the pass continues in a new task."""


class CustomerDisconnected(Exception):
    """The customer left CONNECTED (offboarded, consent revoked, re-checked with missing
    permissions) or its tenant ID changed while its sync ran; nothing of the page at hand was
    stored. ``str(exc)`` says what happened."""


def lock_connected_customer(customer_pk: int, tenant_id: str) -> None:
    """Lock the customer's row for the rest of the caller's transaction (``FOR NO KEY
    UPDATE``: it waits for, and blocks, an offboarding in progress; ignored on SQLite, whose
    writers are serialized anyway) and check it is still connected to ``tenant_id``.

    Raises CustomerDisconnected otherwise. Must run inside a transaction.
    """
    customer = (
        Customer.objects.select_for_update(no_key=True)
        .only("consent_state", "tenant_id")
        .filter(pk=customer_pk)
        .first()
    )
    if customer is None:
        raise CustomerDisconnected("The customer was deleted while its sync ran.")
    if not customer.is_connected or str(customer.tenant_id) != tenant_id:
        state = customer.get_consent_state_display().lower()
        raise CustomerDisconnected(
            f"The customer's state changed to {state!r} while its sync ran; the sync stopped "
            "before storing more incidents."
        )


def start_pass(state: TenantSyncState, now: datetime) -> None:
    """Begin a pass: filter from watermark - overlap, or the backfill window on a first sync."""
    if state.watermark is not None:
        start = state.watermark - timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)
    else:
        start = now - timedelta(days=settings.SYNC_BACKFILL_DAYS)
    state.pass_filter_from = start
    state.pass_started_at = now
    state.pass_skip = 0
    state.pass_next_link = ""
    state.pass_max_seen = None
    state.save(update_fields=_PASS_FIELDS)


def end_pass(state: TenantSyncState) -> None:
    """The pass stored every page: advance the watermark (never backwards), clear the pass."""
    assert state.pass_filter_from is not None and state.pass_started_at is not None
    if state.pass_max_seen is not None:
        candidate = min(state.pass_max_seen, state.pass_started_at)
        if state.watermark is None or candidate > state.watermark:
            state.watermark = candidate
    elif state.watermark is None:
        state.watermark = state.pass_filter_from
    state.pass_filter_from = None
    state.pass_started_at = None
    state.pass_skip = 0
    state.pass_next_link = ""
    state.pass_max_seen = None


def run_pass(
    customer: Customer,
    tenant_id: str,
    state: TenantSyncState,
    run: SyncRun,
    client: DefenderClient,
    progress: Progress,
    deadline: float,
) -> None:
    """Continue the tenant's pass (or start one) until its last page is stored.

    Updates ``state`` (checkpoint, watermark at the end), ``run`` (figures) and ``progress``
    page by page. Raises TimeBoxReached once ``time.monotonic()`` passes ``deadline`` after a
    stored page, and CustomerDisconnected when the customer is no longer connected to
    ``tenant_id`` at the start of a page's transaction; Microsoft and payload errors
    (``microsoft.errors``) propagate with nothing of the failing page stored.
    """
    now = timezone.now()
    if state.pass_filter_from is None or (
        state.pass_started_at is not None and now - state.pass_started_at > PASS_MAX_AGE
    ):
        start_pass(state, now)
    else:
        run.resumed = True
        run.save(update_fields=["resumed"])
    assert state.pass_filter_from is not None
    query = f"lastUpdateTime ge {format_filter_datetime(state.pass_filter_from)}"
    statistics = StatisticsKeeper()
    while True:
        if state.pass_next_link and not same_origin(
            state.pass_next_link, settings.DEFENDER_API_URL
        ):
            # Stored before the client dropped such links (or DEFENDER_API_URL changed): the
            # documented $skip takes over from the same place.
            logger.warning("sync tenant=%s stored next link to another host dropped", tenant_id)
            state.pass_next_link = ""
        first_page = state.pass_skip == 0 and not state.pass_next_link
        if state.pass_next_link:
            page = client.list_incidents_url(state.pass_next_link)
        else:
            page = client.list_incidents(filter=query, top=MAX_PAGE_SIZE, skip=state.pass_skip)
        parsed = parse_incident_page(
            page.incidents,
            tenant_id=tenant_id,
            max_rows=MAX_PAGE_SIZE,
            strict_enums=not settings.SYNC_ACCEPT_UNKNOWN_ENUMS,
        )
        done = not page.incidents or (
            page.next_link is None and len(page.incidents) < MAX_PAGE_SIZE
        )
        with transaction.atomic():
            lock_connected_customer(customer.pk, tenant_id)
            # durable=False: see "Why a page's commit need not wait for the disk" above.
            result = upsert_incidents(
                customer=customer, incidents=parsed, synced_at=now, durable=False
            )
            if first_page and page.server_time is not None and state.pass_started_at:
                server_start = page.server_time - timedelta(seconds=1)
                state.pass_started_at = min(state.pass_started_at, server_start)
            state.pass_skip += len(page.incidents)
            state.pass_next_link = page.next_link or ""
            if result.max_last_update is not None and (
                state.pass_max_seen is None or result.max_last_update > state.pass_max_seen
            ):
                state.pass_max_seen = result.max_last_update
            progress.pages += 1
            progress.created += result.created
            progress.updated += result.updated
            progress.unchanged += result.unchanged
            progress.alerts += result.alerts_upserted
            if done:
                end_pass(state)
                state.save(update_fields=[*_PASS_FIELDS, "watermark"])
            else:
                state.save(update_fields=_PASS_FIELDS)
            copy_figures(run, client, progress)
            run.save(update_fields=RUN_FIGURES)
        statistics.record(result)
        if done:
            progress.pass_done = True
            return
        if time.monotonic() >= deadline:
            raise TimeBoxReached


def copy_figures(run: SyncRun, client: DefenderClient, progress: Progress) -> None:
    """Copy the run's figures so far (pages, incidents, API calls, waits) onto ``run``."""
    stats = client.stats
    run.pages = progress.pages
    run.incidents_created = progress.created
    run.incidents_updated = progress.updated
    run.incidents_unchanged = progress.unchanged
    run.alerts_upserted = progress.alerts
    run.api_calls = stats.api_calls
    run.token_requests = stats.token_requests
    run.throttled_waits = stats.throttled_waits
    run.throttled_seconds = round(stats.throttled_seconds, 3)

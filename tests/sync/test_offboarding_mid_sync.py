"""A customer offboarded while its sync runs: no further page is stored, and what the
offboarding deleted (incidents, sync history, sync state) does not come back."""

from __future__ import annotations

from typing import Any

import pytest

from incidents.models import Alert, Incident
from sync.models import SyncOutcome, SyncRun, TenantSyncState
from tenants.models import ConsentState
from tenants.services import offboard_customer
from tests.sync.helpers import sync


def offboard_before_second_page(client: Any, customer: Any, *, delete_data: bool) -> None:
    """Make ``client`` offboard ``customer`` while it fetches the second page (between the
    first page's commit and the second's)."""
    real = client.list_incidents

    def list_incidents(**kwargs: Any) -> Any:
        page = real(**kwargs)
        if kwargs.get("skip"):
            offboard_customer(customer=customer, delete_data=delete_data, actor_label="test")
        return page

    client.list_incidents = list_incidents


def test_offboarding_with_data_deletion_mid_sync_leaves_nothing_behind(
    contoso: Any, make_client: Any
) -> None:
    client = make_client(contoso)
    offboard_before_second_page(client, contoso, delete_data=True)

    result = sync(contoso, client)

    assert result.outcome == SyncOutcome.STOPPED
    assert Incident.objects.filter(customer=contoso).count() == 0
    assert Alert.objects.filter(customer=contoso).count() == 0
    assert SyncRun.objects.filter(customer=contoso).count() == 0
    assert TenantSyncState.objects.filter(customer=contoso).count() == 0
    contoso.refresh_from_db()
    assert (contoso.consent_state, contoso.tenant_id) == (ConsentState.OFFBOARDED, None)


def test_offboarding_keeping_data_mid_sync_stops_before_the_next_page(
    contoso: Any, make_client: Any
) -> None:
    client = make_client(contoso)
    offboard_before_second_page(client, contoso, delete_data=False)

    result = sync(contoso, client)

    assert result.outcome == SyncOutcome.STOPPED
    assert Incident.objects.filter(customer=contoso).count() == 100
    run = SyncRun.objects.get(customer=contoso)
    assert (run.outcome, run.error_code, run.pages) == (
        SyncOutcome.STOPPED,
        "customer_disconnected",
        1,
    )
    assert run.error == (
        "The customer's state changed to 'offboarded' while its sync ran; the sync stopped "
        "before storing more incidents."
    )
    assert run.finished_at is not None
    state = TenantSyncState.objects.get(customer=contoso)
    assert (state.last_outcome, state.pass_skip, state.watermark) == (
        SyncOutcome.STOPPED,
        100,
        None,
    )


@pytest.mark.parametrize("delete_data", [True, False])
def test_offboarded_customer_is_not_synced_again(
    contoso: Any, make_client: Any, delete_data: bool
) -> None:
    offboard_customer(customer=contoso, delete_data=delete_data, actor_label="test")

    result = sync(contoso, make_client(contoso))

    assert (result.outcome, result.run) == (SyncOutcome.SKIPPED, None)
    assert Incident.objects.filter(customer=contoso).count() == 0

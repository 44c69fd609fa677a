"""sync.paging: each page's transaction commits without waiting for the WAL flush
(``upsert_incidents(..., durable=False)``), and only that transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from incidents import upsert
from sync import paging, services
from sync.models import SyncOutcome, SyncTrigger
from tests.sync.helpers import emulator_incidents, stored_incidents


def _setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)  # real commits: SET LOCAL must end with each page
def test_page_transactions_commit_asynchronously_and_the_session_is_left_as_it_was(
    contoso: Any, portal_emulator: Any, make_client: Any, monkeypatch: Any
) -> None:
    seen: list[tuple[bool, str]] = []

    def spy(**kwargs: Any) -> upsert.UpsertResult:
        result = upsert.upsert_incidents(**kwargs)
        on_postgresql = connection.vendor == "postgresql"
        seen.append((kwargs["durable"], _setting("synchronous_commit") if on_postgresql else "off"))
        return result

    monkeypatch.setattr(paging, "upsert_incidents", spy)
    before = _setting("synchronous_commit") if connection.vendor == "postgresql" else "on"

    result = services.sync_tenant(
        customer_id=contoso.pk, trigger=SyncTrigger.SCHEDULE, client=make_client(contoso)
    )

    assert result.outcome == SyncOutcome.SUCCEEDED
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, str(contoso.tenant_id))
    assert seen == [(False, "off"), (False, "off")]  # two pages, both relaxed
    after = _setting("synchronous_commit") if connection.vendor == "postgresql" else "on"
    assert (before, after) == ("on", "on")

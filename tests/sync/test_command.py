"""``manage.py sync_incidents``: the same sync in the foreground."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from microsoft import defender
from sync.models import SyncOutcome, SyncTrigger
from tests import factories
from tests.sync.helpers import emulator_incidents, stored_incidents


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("sync_incidents", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_syncs_every_connected_tenant_and_prints_one_line_each(
    contoso: Any, woodgrove: Any, portal_emulator: Any
) -> None:
    out, err = run()

    lines = out.strip().splitlines()
    assert len(lines) == 2 and err == ""
    contoso_line = next(line for line in lines if str(contoso.tenant_id) in line)
    expected = emulator_incidents(portal_emulator, str(contoso.tenant_id))
    assert f"customer='Contoso Ltd' outcome=succeeded runs=1 pages=2 created={len(expected)} " in (
        contoso_line
    )
    assert "api_calls=2 token_requests=1 throttled_waits=0" in contoso_line
    assert stored_incidents(contoso) == expected
    assert contoso.sync_runs.get().trigger == SyncTrigger.COMMAND


def test_one_tenant_only(contoso: Any, woodgrove: Any, portal_emulator: Any) -> None:
    out, _ = run("--tenant", str(woodgrove.tenant_id).upper())

    assert str(woodgrove.tenant_id) in out and str(contoso.tenant_id) not in out
    assert not contoso.sync_runs.exists()


def test_exits_non_zero_when_a_tenant_fails(
    contoso: Any, woodgrove: Any, portal_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defender, "BACKOFF_BASE", 0.0)  # retry at once
    portal_emulator.add_fault(
        "500", tenant_id=str(contoso.tenant_id), path_prefix="/api/", count=20
    )
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=r"1 of 2 tenant\(s\) failed to sync"):
        call_command("sync_incidents", stdout=out, stderr=err)

    assert "outcome=failed" in err.getvalue() and str(contoso.tenant_id) in err.getvalue()
    assert "outcome=succeeded" in out.getvalue() and str(woodgrove.tenant_id) in out.getvalue()
    assert woodgrove.sync_runs.get().outcome == SyncOutcome.SUCCEEDED


def test_continues_a_time_boxed_pass_until_done(
    contoso: Any, portal_emulator: Any, settings: Any
) -> None:
    settings.SYNC_RUN_MAX_SECONDS = 0

    out, _ = run("--tenant", str(contoso.tenant_id))

    assert "outcome=succeeded runs=2 pages=2" in out
    assert stored_incidents(contoso) == emulator_incidents(portal_emulator, str(contoso.tenant_id))


def test_unknown_bad_or_disconnected_tenant_is_an_error(db: Any) -> None:
    with pytest.raises(CommandError, match="must be a tenant ID"):
        run("--tenant", "contoso.example")
    with pytest.raises(CommandError, match="No customer has tenant ID"):
        run("--tenant", "6c2d8e4f-1a3b-4c5d-9e7f-0a1b2c3d4e5f")
    customer = factories.ConnectedCustomerFactory(name="Gone", consent_state="consent_revoked")
    with pytest.raises(CommandError, match=r"Gone \(.*\) is not connected \(Consent revoked\)"):
        run("--tenant", str(customer.tenant_id))

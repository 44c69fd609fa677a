"""Synthetic data: realism invariants, both payload styles, churn and seed determinism."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from emulator import EmulatorServer, TenantSpec
from emulator.datagen import generate_records, make_pools
from emulator.payload import DOC_ENTITY_KEYS, render_incident
from emulator.timeutil import TICKS_PER_DAY, parse_iso, to_ticks
from tests.emulator.helpers import Client

ENTITY_TYPES = {
    "User",
    "Ip",
    "Url",
    "File",
    "Process",
    "Mailbox",
    "MailMessage",
    "MailCluster",
    "Registry",
    "SecurityGroup",
}


def _entities(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for i in incidents for a in i["alerts"] for e in a["entities"]]


def test_a_tenant_looks_like_a_real_soc_queue() -> None:
    anchor = to_ticks(time.time())
    pools = make_pools(7, "tid", "contoso-demo.example", anchor)
    records = generate_records(7, "tid", 2000, anchor, pools.assignees)
    incidents = [render_incident(r, pools, live=True) for r in records]

    assert all(r.updated >= r.created and r.updated <= anchor for r in records)
    ages = [(anchor - r.created) / TICKS_PER_DAY for r in records]
    assert max(ages) <= 45 and sum(a > 30 for a in ages) > 0 and sum(a < 1 for a in ages) > 0
    statuses = Counter(i["status"] for i in incidents)
    assert set(statuses) == {"Active", "InProgress", "Resolved", "Redirected"}
    ids = {i["incidentId"] for i in incidents}
    merged = [i for i in incidents if i["status"] == "Redirected"]
    assert merged and all(i["redirectIncidentId"] in ids and i["alerts"] == [] for i in merged)
    assert any(len(i["alerts"]) >= 3 for i in incidents)
    assert any(i["comments"] for i in incidents) and any(i["tags"] for i in incidents)
    assert {e["entityType"] for e in _entities(incidents)} == ENTITY_TYPES
    alerts = [a for i in incidents for a in i["alerts"]]
    assert {a["serviceSource"] for a in alerts} >= {
        "MicrosoftDefenderForEndpoint",
        "MicrosoftDefenderForOffice365",
        "MicrosoftCloudAppSecurity",
        "AADIdentityProtection",
    }
    assert any(a["mitreTechniques"] for a in alerts) and any(a["devices"] for a in alerts)
    assert all(
        parse_iso(a["lastUpdatedTime"]) <= parse_iso(i["lastUpdateTime"])
        for i in incidents
        for a in i["alerts"]
    )
    resolved = [i for i in incidents if i["status"] == "Resolved"]
    assert all(i["classification"] != "Unknown" for i in resolved)


def test_live_style_omits_entity_nulls_and_adds_live_fields(wire: Client) -> None:
    incidents = wire.list_all(wire.token("Contoso"))
    tid = wire.tenant_id("Contoso")

    assert all(
        i["incidentUri"] == f"https://security.microsoft.com/incidents/{i['incidentId']}?tid={tid}"
        for i in incidents
    )
    alerts = [a for i in incidents for a in i["alerts"]]
    assert all(list(a)[:2] == ["alertId", "providerAlertId"] and "detectorId" in a for a in alerts)
    entities = _entities(incidents)
    assert all(None not in e.values() for e in entities)
    assert all(
        list(e)[1:4] == ["evidenceCreationTime", "verdict", "remediationStatus"] for e in entities
    )
    assert "MailBox" not in {e["entityType"] for e in entities}
    devices = [d for a in alerts for d in a["devices"]]
    assert devices and all("onboardingStatus" in d and "vmMetadata" in d for d in devices)
    assert any(i["redirectIncidentId"] is None for i in incidents)  # incident nulls stay


def test_doc_style_has_every_entity_key_and_no_live_extras(wire: Client) -> None:
    wire.emulator.knobs.null_style = "doc"
    incidents = wire.list_all(wire.token("Contoso"))

    assert all("incidentUri" not in i for i in incidents)
    alerts = [a for i in incidents for a in i["alerts"]]
    assert all("providerAlertId" not in a and "detectorId" not in a for a in alerts)
    entities = _entities(incidents)
    assert all(tuple(e) == DOC_ENTITY_KEYS for e in entities)
    assert "Mailbox" not in {e["entityType"] for e in entities}
    assert all("onboardingStatus" not in d for a in alerts for d in a["devices"])
    assert {a["serviceSource"] for a in alerts} <= {
        "MicrosoftDefenderATP",
        "OfficeATP",
        "MicrosoftCloudAppSecurity",
        "AADIdentityProtection",
    }


def test_churn_changes_last_update_time_so_incremental_sync_sees_it(wire: Client) -> None:
    token = wire.token("Contoso")
    # Churn happens 10 s "later", so nothing generated at start-up can pass the watermark.
    wire.emulator.knobs.clock_offset_seconds = 10
    watermark = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    tid = wire.tenant_id("Contoso")
    before = wire.emulator.incident_count(tid)

    changes = wire.emulator.churn(steps=40)
    ours = [c for c in changes if c["tenant_id"] == tid]
    changed = {c["incident_id"] for c in ours} | {c["target_id"] for c in ours if "target_id" in c}
    rows = wire.list_all(token, **{"$filter": f"lastUpdateTime ge {watermark}"})

    assert {c["change"] for c in changes} >= {"new_incident", "status", "new_alert"}
    assert {r["incidentId"] for r in rows} == changed
    new = sum(c["change"] == "new_incident" for c in ours)
    assert wire.emulator.incident_count(tid) == before + new


def test_add_and_update_incident_helpers(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    created = wire.emulator.add_incident(tid, severity="High", incidentName="Fresh one")
    assert (created["severity"], created["incidentName"], created["status"]) == (
        "High",
        "Fresh one",
        "Active",
    )
    assert created["createdTime"] == created["lastUpdateTime"]
    assert wire.emulator.incident_ids(tid)[0] == created["incidentId"]

    updated = wire.emulator.update_incident(
        tid, created["incidentId"], status="InProgress", newAlert=True
    )
    assert updated["status"] == "InProgress"
    assert len(updated["alerts"]) == len(created["alerts"]) + 1
    assert parse_iso(updated["lastUpdateTime"]) >= parse_iso(created["lastUpdateTime"])


def test_background_churn_runs_while_serving(tmp_path: Path) -> None:
    specs = [TenantSpec("Contoso", "consented", 20)]
    with EmulatorServer(tmp_path, tenants=specs, churn_seconds=0.1, prewarm=False) as server:
        deadline = time.monotonic() + 5
        while server.incident_count(server.tenants[0].tenant_id) == 20:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_same_seed_same_data_and_churn_different_seed_different_data(tmp_path: Path) -> None:
    specs = [TenantSpec("Contoso", "consented", 60), TenantSpec(state="not_consented")]
    anchor = 1_750_000_000.0

    def build(seed: int, name: str) -> EmulatorServer:
        return EmulatorServer(
            tmp_path / name, seed=seed, tenants=specs, anchor_time=anchor, prewarm=False
        )

    a, b, c = build(5, "a"), build(5, "b"), build(6, "c")
    tid = a.tenants[0].tenant_id
    assert [t.tenant_id for t in a.tenants] == [t.tenant_id for t in b.tenants]
    assert a.client_id == b.client_id and a.client_id != c.client_id
    assert a.incident_ids(tid) == b.incident_ids(tid)
    assert a.get_incident(tid, a.incident_ids(tid)[7]) == b.get_incident(
        tid, b.incident_ids(tid)[7]
    )
    assert tid != c.tenants[0].tenant_id
    assert [x["incident_id"] for x in a.churn(10)] == [x["incident_id"] for x in b.churn(10)]
    a.reset()
    assert a.incident_ids(tid) == build(5, "d").incident_ids(tid)


def test_reset_restores_data_states_knobs_and_log(wire: Client) -> None:
    emulator = wire.emulator
    tid = wire.tenant_id("Contoso")
    ids = emulator.incident_ids(tid)
    emulator.churn(5)
    emulator.set_tenant_state(tid, "not_consented")
    knobs = emulator.knobs
    knobs.null_style = "doc"
    emulator.add_fault("500")
    wire.token_response(tid)

    emulator.reset()

    assert emulator.incident_ids(tid) == ids
    assert emulator.tenant(name="Contoso").state == "consented"
    assert knobs is emulator.knobs and knobs.null_style == "live"
    assert emulator.requests == []
    assert wire.token_response(tid).status_code == 200


def test_alert_ids_and_times_stay_put_when_the_incident_changes(wire: Client) -> None:
    tid = wire.tenant_id("Contoso")
    emulator = wire.emulator
    multi = next(
        i
        for i in (emulator.get_incident(tid, x) for x in emulator.incident_ids(tid))
        if len(i["alerts"]) >= 2 and i["status"] == "Active"
    )
    emulator.knobs.clock_offset_seconds = 3600
    after = emulator.update_incident(tid, multi["incidentId"], status="Resolved", newAlert=True)

    def stable(alert: dict) -> tuple:
        return alert["alertId"], alert["creationTime"], alert["firstActivity"], alert["entities"]

    assert [stable(a) for a in after["alerts"][: len(multi["alerts"])]] == [
        stable(a) for a in multi["alerts"]
    ]
    assert len({a["alertId"] for a in after["alerts"]}) == len(after["alerts"])

"""incidents.upsert: bulk, idempotent upsert of validated pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from incidents.models import Alert, Incident
from incidents.parsing import parse_incident_page
from incidents.upsert import StatisticsKeeper, upsert_incidents
from tests import factories
from tests.incidents.samples import TENANT, doc_incident, live_incident, page

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> Any:
    return factories.ConnectedCustomerFactory(name="Upsert Co", tenant_id=TENANT)


def apply(customer: Any, value: list[dict[str, Any]]) -> Any:
    return upsert_incidents(
        customer=customer, incidents=parse_incident_page(value, tenant_id=TENANT)
    )


def bulk_page(start: int, count: int = 100, alerts: int = 3) -> list[dict[str, Any]]:
    rows = []
    for n in range(start, start + count):
        incident = live_incident(
            incidentId=n, incidentUri=f"https://security.microsoft.com/incidents/{n}?tid={TENANT}"
        )
        template = incident["alerts"][0]
        incident["alerts"] = [
            dict(template, alertId=f"da{n}_{k}", incidentId=n) for k in range(alerts)
        ]
        rows.append(incident)
    return rows


@override_settings(DEFENDER_PORTAL_URL="https://security.example")
def test_new_incidents_are_stored_with_computed_fields(customer: Any) -> None:
    result = apply(customer, page())

    assert (result.created, result.updated, result.unchanged, result.alerts_upserted) == (
        2, 0, 0, 2,
    )  # fmt: skip
    doc = Incident.objects.get(customer=customer, incident_id=48213)
    live = Incident.objects.get(customer=customer, incident_id=48240)
    assert doc.incident_uri == f"https://security.example/incidents/48213?tid={TENANT}"
    assert live.incident_uri == f"https://security.microsoft.com/incidents/48240?tid={TENANT}"
    assert (live.severity, live.severity_rank, doc.severity_rank) == ("High", 4, 2)
    assert live.alert_count == 1
    assert live.service_sources == ["MicrosoftDefenderForEndpoint"]
    assert live.service_sources_key == "|MicrosoftDefenderForEndpoint|"
    assert "invoice_0217.docm" in live.search_text
    assert live.assigned_to == "soc@fabrikam-demo.example"
    assert live.raw["incidentUri"].endswith("tid=" + TENANT)
    assert "alerts" not in live.raw
    alert = Alert.objects.get(customer=customer, alert_id="da638754033251234567_1288344712")
    assert alert.incident_id == live.pk
    assert alert.devices[0]["deviceDnsName"] == "fin-ws-017.fabrikam-demo.example"
    assert [e["entityType"] for e in alert.entities] == ["Mailbox", "File", "Url"]
    assert alert.raw["detectorId"] == "3f1d2c4b-8a7e-4e3b-9c1d-5a6b7c8d9e0f"
    assert result.max_last_update == live.last_update_time


def test_the_same_page_twice_changes_nothing(customer: Any) -> None:
    apply(customer, page())
    before = list(Incident.objects.order_by("pk").values())
    alerts_before = list(Alert.objects.order_by("pk").values())

    result = apply(customer, page())

    assert (result.created, result.updated, result.unchanged, result.alerts_upserted) == (
        0, 0, 2, 0,
    )  # fmt: skip
    assert list(Incident.objects.order_by("pk").values()) == before
    assert list(Alert.objects.order_by("pk").values()) == alerts_before


def test_a_newer_incident_updates_and_an_older_copy_is_ignored(customer: Any) -> None:
    apply(customer, page())
    newer = live_incident(lastUpdateTime="2025-02-18T08:00:00Z", status="Resolved")

    result = apply(customer, [newer])
    assert (result.created, result.updated) == (0, 1)
    assert Incident.objects.get(incident_id=48240).status == "Resolved"

    stale = live_incident(status="Active")  # the original, older lastUpdateTime
    result = apply(customer, [stale])
    assert (result.updated, result.stale) == (0, 1)
    assert Incident.objects.get(incident_id=48240).status == "Resolved"


def test_a_change_without_a_new_update_time_is_stored(customer: Any) -> None:
    apply(customer, page())
    changed = live_incident()
    changed["alerts"][0]["entities"].append({"entityType": "Ip", "ipAddress": "203.0.113.9"})

    result = apply(customer, [changed])

    assert (result.updated, result.unchanged) == (1, 0)
    alert = Alert.objects.get(alert_id="da638754033251234567_1288344712")
    assert alert.entities[-1] == {"entityType": "Ip", "ipAddress": "203.0.113.9"}
    assert "203.0.113.9" in Incident.objects.get(incident_id=48240).search_text


def test_merged_incident_is_kept_linked_and_its_alert_follows_the_target(customer: Any) -> None:
    apply(customer, page())
    merged = doc_incident(
        status="Redirected",
        redirectIncidentId=48240,
        lastUpdateTime="2025-02-18T08:00:00Z",
        alerts=[],
    )
    target = live_incident(lastUpdateTime="2025-02-18T08:00:00Z")
    target["alerts"].append(doc_incident()["alerts"][0])

    result = apply(customer, [merged, target])

    assert result.updated == 2
    source = Incident.objects.get(customer=customer, incident_id=48213)
    assert (source.status, source.redirect_incident_id, source.alert_count) == (
        "Redirected", 48240, 0,
    )  # fmt: skip
    moved = Alert.objects.get(alert_id="ca5B1E7A90-3C44-4D2F-8E61-7F0A2B9C4D13")
    assert moved.incident.incident_id == 48240
    assert Alert.objects.filter(customer=customer).count() == 2
    assert Incident.objects.get(incident_id=48240).service_sources == [
        "MicrosoftCloudAppSecurity",
        "MicrosoftDefenderForEndpoint",
    ]


def test_alert_no_longer_listed_by_an_updated_incident_is_removed(customer: Any) -> None:
    apply(customer, bulk_page(1, count=1, alerts=3))
    shorter = bulk_page(1, count=1, alerts=2)
    shorter[0]["lastUpdateTime"] = "2025-02-18T08:00:00Z"

    result = apply(customer, shorter)

    assert result.alerts_deleted == 1
    assert sorted(Alert.objects.values_list("alert_id", flat=True)) == ["da1_0", "da1_1"]


def test_a_row_seen_twice_on_one_page_is_stored_once(customer: Any) -> None:
    newer = live_incident(lastUpdateTime="2025-02-18T08:00:00Z", status="Resolved")

    result = apply(customer, [live_incident(), newer])

    assert result.created == 1
    assert Incident.objects.get(incident_id=48240).status == "Resolved"


def test_same_ids_in_two_tenants_do_not_collide(customer: Any) -> None:
    other = factories.ConnectedCustomerFactory(name="Other Co")
    apply(customer, page())
    upsert_incidents(
        customer=other,
        incidents=parse_incident_page([doc_incident()], tenant_id=str(other.tenant_id)),
    )

    assert Incident.objects.filter(incident_id=48213).count() == 2
    assert Alert.objects.filter(alert_id="ca5B1E7A90-3C44-4D2F-8E61-7F0A2B9C4D13").count() == 2


def test_a_page_takes_a_fixed_number_of_queries(
    customer: Any, django_assert_max_num_queries: Any
) -> None:
    if connection.vendor == "postgresql":
        # new: SELECT stored; nextval ids + COPY incidents; SELECT stored alerts + COPY alerts.
        # changed: SELECT stored; per table CREATE TEMP TABLE IF NOT EXISTS, DELETE, COPY,
        # INSERT .. ON CONFLICT; SELECT stored alerts; DELETE alerts no longer listed.
        new, changed = 5, 11
    else:
        # Django's batches of 999 parameters (22 columns: 45 rows a batch, so 3 statements
        # for 100 incidents and 7 for 300 alerts), plus the SELECT (and the DELETE).
        new, changed = 1 + 3 + 7, 2 + 3 + 7
    with django_assert_max_num_queries(new):
        result = apply(customer, bulk_page(1))
    assert (result.created, result.alerts_upserted) == (100, 300)
    assert Alert.objects.count() == 300

    updated = bulk_page(1)
    for row in updated:
        row["lastUpdateTime"] = "2025-02-18T08:00:00Z"
    with django_assert_max_num_queries(changed):
        result = apply(customer, updated)
    assert result.updated == 100

    with django_assert_max_num_queries(3):
        result = apply(customer, updated)
    assert result.unchanged == 100


def test_an_alert_moving_to_a_new_incident_is_moved_not_duplicated(customer: Any) -> None:
    apply(customer, page())
    new_target = live_incident(incidentId=50000, incidentUri="", alerts=[])
    new_target["alerts"] = [doc_incident()["alerts"][0]]  # the doc incident's alert

    result = apply(customer, [new_target])

    assert result.created == 1
    alert = Alert.objects.get(customer=customer, alert_id="ca5B1E7A90-3C44-4D2F-8E61-7F0A2B9C4D13")
    assert alert.incident.incident_id == 50000
    assert Alert.objects.filter(customer=customer).count() == 2


@pytest.mark.django_db(transaction=True)
def test_statistics_are_refreshed_every_n_new_rows_on_postgresql() -> None:
    customer = factories.ConnectedCustomerFactory(name="Stats Co", tenant_id=TENANT)
    keeper = StatisticsKeeper(every=150)

    for start in (1, 101):
        keeper.record(apply(customer, bulk_page(start, alerts=1)))

    assert keeper.runs == (1 if connection.vendor == "postgresql" else 0)
    assert keeper.pending == 0

"""incidents.upsert: bulk, idempotent upsert of validated pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings

from incidents import pg_copy
from incidents.models import Alert, Incident
from incidents.parsing import parse_incident_page
from incidents.payload import parse_datetime
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
        pg_copy.has_lz4()  # asked once per database, on first use
        # new: SELECT stored; SET LOCAL; nextval ids + COPY incidents; SELECT stored alerts +
        # COPY alerts. changed: SELECT stored; SET LOCAL; per table CREATE TEMP TABLE IF NOT
        # EXISTS, DELETE, COPY, INSERT .. ON CONFLICT; SELECT stored alerts; DELETE alerts no
        # longer listed.
        new, changed = 6, 12
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


def _tricky_incident(n: int, title: str) -> dict[str, Any]:
    """An incident whose values need escaping or are null, with an unknown nested key."""
    incident = live_incident(
        incidentId=n,
        incidentName="Tab\there, line\nbreak, back\\slash, Ünïcødé ✓",
        redirectIncidentId=None,
        futureField={"nested": ["a\tb", "c\\d", None, 1.5, True, "😀"]},
        incidentUri=f"https://security.microsoft.com/incidents/{n}?tid={TENANT}",
    )
    alert = incident["alerts"][0]
    alert.update(alertId=f"da{n}", incidentId=n, title=title, resolvedTime=None)
    alert["description"] = "multi\nline \\N not null\r\n"
    alert["entities"][0]["note"] = "\\x00 is text"
    return incident


@pytest.mark.parametrize("path", ["new", "changed"])
def test_values_are_stored_exactly_as_received(customer: Any, path: str) -> None:
    if path == "changed":  # the temp table + INSERT .. ON CONFLICT path on PostgreSQL
        apply(customer, [_tricky_incident(7, "old title")])
    incoming = _tricky_incident(7, "Ti\ttle \\ ✓")
    if path == "changed":
        incoming["lastUpdateTime"] = "2030-01-01T00:00:00.1234567Z"

    result = apply(customer, [incoming])

    assert (result.created, result.updated) == ((1, 0) if path == "new" else (0, 1))
    stored = Incident.objects.get(customer=customer, incident_id=7)
    assert stored.name == "Tab\there, line\nbreak, back\\slash, Ünïcødé ✓"
    assert stored.redirect_incident_id is None
    assert stored.raw == {k: v for k, v in incoming.items() if k != "alerts"}
    assert stored.last_update_time == parse_datetime(incoming["lastUpdateTime"])
    assert stored.created_time == parse_datetime(incoming["createdTime"])
    alert = Alert.objects.get(customer=customer, alert_id="da7")
    sent = incoming["alerts"][0]
    assert (alert.title, alert.description) == ("Ti\ttle \\ ✓", "multi\nline \\N not null\r\n")
    assert alert.resolved_time is None
    assert alert.raw == {k: v for k, v in sent.items() if k not in ("devices", "entities")}
    assert (alert.devices, alert.entities) == (sent["devices"], sent["entities"])
    assert apply(customer, [incoming]).unchanged == 1  # and reads back as unchanged


@pytest.mark.django_db(transaction=True)
def test_statistics_are_refreshed_early_then_every_n_new_rows_on_postgresql() -> None:
    customer = factories.ConnectedCustomerFactory(name="Stats Co", tenant_id=TENANT)
    keeper = StatisticsKeeper(every=300, first=100)
    runs = []

    for start in range(1, 501, 100):
        keeper.record(apply(customer, bulk_page(start, alerts=1)))
        runs.append(keeper.runs)

    # PostgreSQL: after the first 100 rows, then after 300 more; elsewhere nothing to do.
    assert runs == ([1, 1, 1, 2, 2] if connection.vendor == "postgresql" else [0] * 5)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL settings")
@pytest.mark.django_db(transaction=True)  # real transactions: SET LOCAL ends with each
@pytest.mark.parametrize("durable", [True, False])
def test_a_written_page_sets_lz4_and_only_non_durable_pages_skip_the_flush(
    durable: bool,
) -> None:
    customer = factories.ConnectedCustomerFactory(name="Settings Co", tenant_id=TENANT)

    def show(name: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}")
            return str(cursor.fetchone()[0])

    before = (show("synchronous_commit"), show("default_toast_compression"))
    with transaction.atomic():
        parsed = parse_incident_page(bulk_page(1, count=2), tenant_id=TENANT)
        upsert_incidents(customer=customer, incidents=parsed, durable=durable)
        inside = (show("synchronous_commit"), show("default_toast_compression"))
    after = (show("synchronous_commit"), show("default_toast_compression"))

    assert before[0] == "on"
    assert inside == ("on" if durable else "off", "lz4" if pg_copy.has_lz4() else before[1])
    assert after == before

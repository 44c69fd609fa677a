"""One incident: the detail page and its stored payload."""

from __future__ import annotations

from django.db.models import F, Prefetch

from dashboard.selectors.filtering import User, scoped_incidents
from incidents.models import Alert, Incident

# Alerts by first activity, those without one last.
_ALERT_ORDER = F("first_activity").asc(nulls_last=True)


def incident_detail(user: User, pk: int) -> Incident | None:
    """The incident ``pk`` if ``user`` may see it, with ``customer``, its alerts (by first
    activity) and ``merge_target`` (the local incident it was merged into, or None); 2 queries
    (+1 for a merge target). The stored payloads (incident ``raw`` and ``search_text``, alert
    ``raw``) are deferred: the page loads them through ``incident_raw`` when asked, and
    reading them from these objects would cost a query each."""
    alerts = Alert.objects.defer("raw").order_by(_ALERT_ORDER, "id")
    incident = (
        scoped_incidents(user)
        .select_related("customer")
        .defer("raw", "search_text")
        .prefetch_related(Prefetch("alerts", queryset=alerts))
        .filter(pk=pk)
        .first()
    )
    if incident is None:
        return None
    incident.merge_target = None  # type: ignore[attr-defined]
    if incident.redirect_incident_id:
        incident.merge_target = (  # type: ignore[attr-defined]
            scoped_incidents(user)
            .filter(customer_id=incident.customer_id, incident_id=incident.redirect_incident_id)
            .only("id", "incident_id", "name")
            .first()
        )
    return incident


def incident_raw(user: User, pk: int) -> dict | None:
    """The stored payload of incident ``pk`` with its alerts' payloads under "alerts", as
    Microsoft sent them, or None if ``user`` may not see it (2 queries)."""
    incident = scoped_incidents(user).filter(pk=pk).only("id", "raw").first()
    if incident is None:
        return None
    payload = dict(incident.raw)
    payload["alerts"] = [
        a.raw for a in Alert.objects.filter(incident=incident).order_by(_ALERT_ORDER, "id")
    ]
    return payload

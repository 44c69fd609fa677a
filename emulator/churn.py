"""Background churn: random changes that keep incremental sync honest (issue 3).

Each step picks a tenant and applies one change stamped `now`: a new incident, a status change,
an assignment, a classification (resolve), a new alert, a comment or a merge. The choices depend
only on the RNG (seeded from the emulator seed) and the call sequence, never on wall time.
"""

from __future__ import annotations

import random
from typing import Any

from .catalog import COMMENTS
from .constants import DETERMINATIONS_BY_CLASSIFICATION
from .store import TenantStore

ACTIONS = ("new_incident", "status", "assign", "classify", "new_alert", "comment", "merge")
WEIGHTS = (25, 20, 15, 15, 15, 7, 3)
#: Only the newest incidents change, like a real queue.
RECENT = 300


def churn_step(rng: random.Random, stores: list[TenantStore], now: int) -> dict[str, Any]:
    """Apply one change; returns {"tenant_id", "incident_id", "change"} (a merge also gives
    "target_id", whose lastUpdateTime changes too). `now` is in ticks."""
    store = rng.choice(stores)
    action = rng.choices(ACTIONS, WEIGHTS)[0]
    open_recs = [r for r in store.records[:RECENT] if r.status in ("Active", "InProgress")]
    if action == "new_incident" or not open_recs or (action == "merge" and len(open_recs) < 2):
        rec = store.add(now)
        return {
            "tenant_id": store.tenant_id,
            "incident_id": rec.incident_id,
            "change": "new_incident",
        }
    rec = rng.choice(open_recs)
    if action == "status":
        if rec.status == "Active":
            store.apply(rec, {"status": "InProgress"}, now)
        else:
            action = "classify"
    if action == "classify":
        classification = rng.choice(tuple(DETERMINATIONS_BY_CLASSIFICATION))
        store.apply(
            rec,
            {
                "status": "Resolved",
                "classification": classification,
                "determination": rng.choice(DETERMINATIONS_BY_CLASSIFICATION[classification]),
                "assignedTo": rec.assigned_to or rng.choice(store.pools.assignees),
            },
            now,
        )
    elif action == "assign":
        store.apply(rec, {"assignedTo": rng.choice(store.pools.assignees)}, now)
    elif action == "new_alert":
        store.add_alert(rec, now)
    elif action == "comment":
        author = rec.assigned_to or rng.choice(store.pools.assignees)
        store.apply(rec, {"comment": (rng.choice(COMMENTS), author)}, now)
    elif action == "merge":
        target = rng.choice([r for r in open_recs if r is not rec])
        store.apply(rec, {"status": "Redirected", "redirectIncidentId": target.incident_id}, now)
        store.touch(target, now)
        return {
            "tenant_id": store.tenant_id,
            "incident_id": rec.incident_id,
            "change": action,
            "target_id": target.incident_id,
        }
    return {"tenant_id": store.tenant_id, "incident_id": rec.incident_id, "change": action}

"""Deterministic synthetic data: per-tenant pools and compact incident records.

An `IncidentRecord` holds only what changes (ids, times, status, assignment, classification,
alert count, tags, comments) plus a per-incident seed; `payload.py` expands it into the wire JSON
on demand. Given the same seed, tenant index and anchor time, the same records come out.
Times are 100 ns ticks since the Unix epoch.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import NamedTuple

from .catalog import (
    COMMENTS,
    DEVICE_ROLES,
    FIRST_NAMES,
    LAST_NAMES,
    MALWARE_FILES,
    MSSP_ANALYSTS,
    OS_PLATFORMS,
    SCENARIO_GROUPS,
    SCENARIOS,
    TAGS,
)
from .constants import DETERMINATIONS_BY_CLASSIFICATION
from .directory import det_uuid
from .timeutil import (
    TICKS_PER_DAY,
    TICKS_PER_HOUR,
    TICKS_PER_MINUTE,
    TICKS_PER_SECOND,
    format_ticks,
)

#: createdTime spread: the last 45 days before the anchor, so a 30-day backfill excludes some.
HISTORY_DAYS = 45
_ALERT_COUNTS = (1, 2, 3, 4, 5, 6, 8)
_ALERT_WEIGHTS = (60, 20, 9, 5, 3, 2, 1)
#: Theme weights: endpoint-heavy, like a typical SOC queue.
_THEME_WEIGHTS = tuple({"endpoint": 5, "email": 4, "identity": 3}[s.group] for s in SCENARIOS)


@dataclass(slots=True)
class IncidentRecord:
    """Compact incident state (§5.3). `alert_count` seeded alerts plus `added_alerts`
    (creation ticks of alerts added while running). `version` grows on every change."""

    incident_id: int
    seed: int
    created: int
    updated: int
    status: str
    assigned_to: str | None
    classification: str
    determination: str
    alert_count: int
    theme: int
    redirect_id: int | None = None
    tags: list[str] | None = None
    comments: list[tuple[str, str, int]] | None = None
    added_alerts: list[int] | None = None
    name: str | None = None
    severity: str | None = None
    version: int = 0
    #: lastUpdateTime when generated: bounds seeded alert times, so they never move later.
    base_updated: int = 0

    def total_alerts(self) -> int:
        """Seeded plus added alerts (a Redirected incident renders none)."""
        return self.alert_count + len(self.added_alerts or ())


class User(NamedTuple):
    """A directory user of a customer tenant (§5.6 User/Mailbox fields)."""

    account: str
    display: str
    upn: str
    sid: str
    aad_id: str


class FileInfo(NamedTuple):
    """A file seen in alerts: name, folder template (`{user}`), SHA-1, SHA-256."""

    name: str
    folder: str
    sha1: str
    sha256: str


@dataclass
class TenantPools:
    """Per-tenant people, devices, addresses and files the alerts refer to.

    `devices` holds (doc-style dict, live-style dict) pairs in §5.5 key order.
    """

    tenant_id: str
    domain: str
    users: list[User]
    devices: list[tuple[dict[str, object], dict[str, object]]]
    public_ips: list[str]
    internal_ips: list[str]
    files: list[FileInfo]
    assignees: list[str]


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def make_pools(seed: int, tenant_id: str, domain: str, anchor: int) -> TenantPools:
    """Deterministic pools for one tenant: ~40 users, ~30 devices, IPs, files, assignees."""
    rng = random.Random(f"{seed}:pools:{tenant_id}")
    users: list[User] = []
    seen: set[str] = set()
    while len(users) < 40:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        account = f"{first[0]}.{last}".lower()
        if account in seen:
            continue
        seen.add(account)
        a, b, c = rng.getrandbits(31), rng.getrandbits(31), rng.getrandbits(31)
        sid = f"S-1-5-21-{a}-{b}-{c}-{1100 + len(users)}"
        users.append(
            User(
                account,
                f"{first} {last}",
                f"{account}@{domain}",
                sid,
                det_uuid(seed, tenant_id, "user", account),
            )
        )
    devices = []
    for i in range(30):
        prefix, group = rng.choice(DEVICE_ROLES)
        platform, version, build = rng.choice(
            OS_PLATFORMS[3:] if prefix.startswith(("srv", "dc")) else OS_PLATFORMS[:3]
        )
        doc: dict[str, object] = {
            "mdatpDeviceId": _hex(rng, 40),
            "aadDeviceId": det_uuid(seed, tenant_id, "device", i) if rng.random() < 0.8 else None,
            "deviceDnsName": f"{prefix}-{rng.randint(1, 250):03d}.{domain}",
            "osPlatform": platform,
            "version": version,
            "osProcessor": "x64",
            "osBuild": build,
            "healthStatus": rng.choice(("Active", "Active", "Active", "Inactive")),
            "riskScore": rng.choice(("None", "Low", "Medium", "High", "Informational")),
            "rbacGroupName": group,
            "rbacGroupId": 40 + DEVICE_ROLES.index((prefix, group)) if group else None,
            "firstSeen": format_ticks(
                anchor - rng.randint(60, 900) * TICKS_PER_DAY - rng.getrandbits(32)
            ),
        }
        live = dict(doc)
        if group is None:  # osBuild / rbacGroupId are not always present live (§5.5)
            del live["rbacGroupId"]
        live.update(
            tags=["VIP"] if prefix == "exec-lt" else [],
            defenderAvStatus="Updated",
            onboardingStatus="Onboarded",
            vmMetadata=None,
        )
        devices.append((doc, live))
    public_ips = [
        f"{net}.{rng.randint(2, 254)}"
        for net in ("198.51.100", "203.0.113", "192.0.2")
        for _ in range(4)
    ]
    internal_ips = [
        f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}" for _ in range(8)
    ]
    files = []
    for name, folder in MALWARE_FILES:
        digest = hashlib.sha256(f"{seed}:{tenant_id}:{name}".encode()).hexdigest()
        files.append(
            FileInfo(
                name,
                folder,
                hashlib.sha1(digest.encode(), usedforsecurity=False).hexdigest(),
                digest,
            )
        )
    assignees = [*MSSP_ANALYSTS, f"secops@{domain}", users[0].upn]
    return TenantPools(
        tenant_id, domain, users, devices, public_ips, internal_ips, files, assignees
    )


def _classify(rng: random.Random) -> tuple[str, str]:
    classification = rng.choices(
        ("TruePositive", "FalsePositive", "InformationalExpectedActivity"), (45, 25, 30)
    )[0]
    return classification, rng.choice(DETERMINATIONS_BY_CLASSIFICATION[classification])


def _status_for_age(rng: random.Random, age_days: float) -> str:
    if age_days < 2:
        weights = (55, 35, 10)
    elif age_days < 10:
        weights = (20, 25, 55)
    else:
        weights = (4, 6, 90)
    return rng.choices(("Active", "InProgress", "Resolved"), weights)[0]


def _fill(rec: IncidentRecord, rng: random.Random, anchor: int, assignees: list[str]) -> None:
    age = anchor - rec.created
    if rec.status == "Resolved":
        rec.updated = rec.created + rng.randint(10 * TICKS_PER_MINUTE, 5 * TICKS_PER_DAY)
        rec.classification, rec.determination = _classify(rng)
    elif rec.status == "InProgress":
        rec.updated = rec.created + rng.randint(5 * TICKS_PER_MINUTE, 2 * TICKS_PER_DAY)
    else:
        rec.updated = rec.created + rng.randint(0, TICKS_PER_HOUR)
    rec.updated = min(rec.updated, rec.created + max(age, 0))
    if rec.status != "Active" or rng.random() < 0.5:
        rec.assigned_to = rng.choice(assignees)
    if rng.random() < 0.15:
        rec.tags = rng.sample(TAGS, rng.randint(1, 2))
    if rec.status != "Active" and rng.random() < 0.35:
        n = rng.randint(1, 2)
        rec.comments = [
            (
                rng.choice(COMMENTS),
                rec.assigned_to or assignees[0],
                rec.created + (rec.updated - rec.created) * (k + 1) // (n + 1),
            )
            for k in range(n)
        ]


def generate_records(
    seed: int, tenant_id: str, count: int, anchor: int, assignees: list[str]
) -> list[IncidentRecord]:
    """`count` incidents created over the last 45 days before `anchor` (ticks), newest first.

    ~3% are merged (status Redirected, `redirect_id` = a later incident); older incidents are
    mostly Resolved and classified; lastUpdateTime >= createdTime and <= anchor.
    """
    rng = random.Random(f"{seed}:incidents:{tenant_id}")
    span = HISTORY_DAYS * TICKS_PER_DAY
    offsets = sorted((rng.random() ** 1.3 for _ in range(count)), reverse=True)
    next_id = 1000 + rng.randrange(90_000)
    records: list[IncidentRecord] = []
    for off in offsets:  # oldest first
        created = anchor - int(off * span) - rng.randrange(TICKS_PER_SECOND)
        next_id += rng.choice((1, 1, 1, 2, 3))
        rec = IncidentRecord(
            incident_id=next_id,
            seed=rng.getrandbits(48),
            created=created,
            updated=created,
            status=_status_for_age(rng, (anchor - created) / TICKS_PER_DAY),
            assigned_to=None,
            classification="Unknown",
            determination="NotAvailable",
            alert_count=rng.choices(_ALERT_COUNTS, _ALERT_WEIGHTS)[0],
            theme=rng.choices(range(len(SCENARIOS)), _THEME_WEIGHTS)[0],
        )
        _fill(rec, rng, anchor, assignees)
        records.append(rec)
    targets: set[int] = set()
    for i, rec in enumerate(records[:-20]):
        if rng.random() < 0.03 and rec.incident_id not in targets:
            target = records[i + rng.randint(1, 20)]
            if target.status != "Redirected":
                targets.add(target.incident_id)
                rec.status, rec.redirect_id = "Redirected", target.incident_id
                rec.classification, rec.determination = "Unknown", "NotAvailable"
                rec.updated = max(rec.updated, min(target.created, anchor))
    for rec in records:
        rec.base_updated = rec.updated
    records.reverse()
    return records


def new_record(
    rng: random.Random, incident_id: int, now: int, overrides: dict[str, object] | None = None
) -> IncidentRecord:
    """A brand-new Active incident created at `now` with 1-3 alerts (churn / add_incident)."""
    rec = IncidentRecord(
        incident_id=incident_id,
        seed=rng.getrandbits(48),
        created=now,
        updated=now,
        status="Active",
        assigned_to=None,
        classification="Unknown",
        determination="NotAvailable",
        alert_count=rng.choice((1, 1, 2, 3)),
        theme=rng.choices(range(len(SCENARIOS)), _THEME_WEIGHTS)[0],
        base_updated=now,
    )
    for key, value in (overrides or {}).items():
        setattr(rec, key, value)
    return rec


def alert_plan(rec: IncidentRecord, count: int) -> list[int]:
    """Scenario index of each of the first `count` alerts: the theme, then related scenarios."""
    rng = random.Random(rec.seed)
    group = SCENARIO_GROUPS[SCENARIOS[rec.theme].group]
    plan = [rec.theme]
    for _ in range(1, count):
        plan.append(rng.choice(group) if rng.random() < 0.7 else rng.randrange(len(SCENARIOS)))
    return plan

"""Advanced hunting (`POST /api/advancedhunting/run`, §7) for a small set of KQL shapes.

Supported: `<Table>` followed by any of `| where Timestamp > ago(<n>d|h|m)`, `| where Col ==
"value"` (other where clauses are accepted and ignored), `| project A, B`, `| order by`/`| sort
by`, `| summarize count() by Col`, `| count`, and `| take N` / `| limit N` / `| top N by Col`.
Tables: AlertInfo, DeviceInfo, DeviceProcessEvents, DeviceNetworkEvents, EmailEvents,
IdentityLogonEvents. Rows are canned and deterministic per tenant. Anything else raises
HuntingError (-> 400 BadRequest).
"""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

from .catalog import COMMAND_LINES, EXTERNAL_SENDERS, MAIL_SUBJECTS, PRODUCTS, SCENARIOS, URLS
from .store import TenantStore
from .timeutil import TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MINUTE, format_ticks

SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "AlertInfo": [
        ("Timestamp", "DateTime"),
        ("AlertId", "String"),
        ("Title", "String"),
        ("Category", "String"),
        ("Severity", "String"),
        ("ServiceSource", "String"),
        ("DetectionSource", "String"),
        ("AttackTechniques", "String"),
    ],
    "DeviceInfo": [
        ("Timestamp", "DateTime"),
        ("DeviceId", "String"),
        ("DeviceName", "String"),
        ("OSPlatform", "String"),
        ("OSBuild", "Int64"),
        ("IsInternetFacing", "Boolean"),
        ("MachineGroup", "String"),
        ("ExposureLevel", "String"),
    ],
    "DeviceProcessEvents": [
        ("Timestamp", "DateTime"),
        ("DeviceId", "String"),
        ("DeviceName", "String"),
        ("ActionType", "String"),
        ("FileName", "String"),
        ("ProcessId", "Int64"),
        ("ProcessCommandLine", "String"),
        ("AccountName", "String"),
        ("InitiatingProcessFileName", "String"),
        ("ReportId", "Int64"),
    ],
    "DeviceNetworkEvents": [
        ("Timestamp", "DateTime"),
        ("DeviceId", "String"),
        ("DeviceName", "String"),
        ("ActionType", "String"),
        ("RemoteIP", "String"),
        ("RemotePort", "Int32"),
        ("RemoteUrl", "String"),
        ("LocalIP", "String"),
        ("ReportId", "Int64"),
    ],
    "EmailEvents": [
        ("Timestamp", "DateTime"),
        ("NetworkMessageId", "Guid"),
        ("SenderFromAddress", "String"),
        ("RecipientEmailAddress", "String"),
        ("Subject", "String"),
        ("DeliveryAction", "String"),
        ("ConfidenceLevel", "Dynamic"),
        ("ReportId", "String"),
    ],
    "IdentityLogonEvents": [
        ("Timestamp", "DateTime"),
        ("ActionType", "String"),
        ("AccountUpn", "String"),
        ("IPAddress", "String"),
        ("Application", "String"),
        ("RiskScore", "Double"),
        ("IsMfaSatisfied", "Boolean"),
    ],
}
ROWS_PER_TABLE = 200
_AGO = re.compile(r"^Timestamp\s*(>|>=)\s*ago\(\s*(\d+)\s*([dhm])\s*\)$")
_EQ = re.compile(r"^(\w+)\s*==\s*(?:\"([^\"]*)\"|'([^']*)')$")
_TAKE = re.compile(r"^(?:take|limit)\s+(\d+)$")
_TOP = re.compile(r"^top\s+(\d+)\s+by\s+(\w+)(?:\s+(asc|desc))?$")
_ORDER = re.compile(r"^(?:order|sort)\s+by\s+(\w+)(?:\s+(asc|desc))?$")
_SUMMARIZE = re.compile(r"^summarize\s+count\(\)\s+by\s+(\w+)$")
_UNIT = {"d": TICKS_PER_DAY, "h": TICKS_PER_HOUR, "m": TICKS_PER_MINUTE}


class HuntingError(ValueError):
    """The query cannot run; the message is the 400 BadRequest text."""


def _split_pipes(query: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    depth, quote = 0, ""
    for ch in query:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise HuntingError("Syntax error: unbalanced ')' in the query.")
        elif ch == "|" and depth == 0:
            parts.append("".join(buf).strip())
            buf = []
            continue
        buf.append(ch)
    if quote or depth:
        raise HuntingError("Syntax error: unterminated string literal or parenthesis.")
    parts.append("".join(buf).strip())
    return parts


def _row_values(table: str, rng: random.Random, store: TenantStore, ts: int) -> list[Any]:
    """Values for every column but Timestamp, in schema order."""
    pools = store.pools
    dev = rng.choice(pools.devices)[0]
    user = rng.choice(pools.users)
    s = SCENARIOS[rng.randrange(len(SCENARIOS))]
    if table == "AlertInfo":
        return [
            f"da{ts}_{rng.getrandbits(30)}",
            s.title,
            s.category,
            s.severity,
            PRODUCTS[s.product].live_source,
            s.detection_source,
            str(list(s.mitre)),
        ]
    if table == "DeviceInfo":
        exposure = rng.choice(("Low", "Medium", "High"))
        return [
            dev["mdatpDeviceId"],
            dev["deviceDnsName"],
            dev["osPlatform"],
            dev["osBuild"],
            rng.random() < 0.1,
            dev["rbacGroupName"],
            exposure,
        ]
    if table == "DeviceProcessEvents":
        return [
            dev["mdatpDeviceId"],
            dev["deviceDnsName"],
            "ProcessCreated",
            rng.choice(pools.files).name,
            rng.randint(400, 30000),
            rng.choice(COMMAND_LINES),
            user.account,
            "explorer.exe",
            rng.getrandbits(20),
        ]
    if table == "DeviceNetworkEvents":
        return [
            dev["mdatpDeviceId"],
            dev["deviceDnsName"],
            rng.choice(("ConnectionSuccess", "ConnectionFailed")),
            rng.choice(pools.public_ips),
            rng.choice((443, 80, 8080)),
            rng.choice(URLS),
            rng.choice(pools.internal_ips),
            rng.getrandbits(20),
        ]
    if table == "EmailEvents":
        return [
            str(uuid.UUID(int=rng.getrandbits(128))),
            rng.choice(EXTERNAL_SENDERS),
            user.upn,
            rng.choice(MAIL_SUBJECTS),
            rng.choice(("Delivered", "Junked", "Blocked")),
            {"Phish": rng.choice(("High", "Low"))},
            str(rng.getrandbits(40)),
        ]
    return [
        rng.choice(("LogonSuccess", "LogonFailed")),
        user.upn,
        rng.choice(pools.public_ips),
        "Microsoft 365",
        round(rng.random() * 100, 2),
        rng.random() < 0.8,
    ]


def _rows(table: str, store: TenantStore, now: int) -> list[dict[str, Any]]:
    """ROWS_PER_TABLE deterministic rows of the last 30 days, newest first."""
    rng = random.Random(f"hunting:{store.tenant_id}:{table}")
    cols = [name for name, _ in SCHEMAS[table]]
    rows = []
    for _ in range(ROWS_PER_TABLE):
        ts = now - int(rng.random() ** 1.5 * 30 * TICKS_PER_DAY)
        values = [format_ticks(ts), *_row_values(table, rng, store, ts)]
        rows.append(dict(zip(cols, values, strict=True)))
    rows.sort(key=lambda r: r["Timestamp"], reverse=True)
    return rows


def run(query: str, store: TenantStore, now: int) -> dict[str, Any]:
    """Execute `query` for `store`'s tenant at `now` (ticks); returns {Stats, Schema, Results}.

    Raises HuntingError for syntax errors, unknown tables/columns and unsupported operators.
    """
    if not query.strip():
        raise HuntingError("The query is empty.")
    parts = _split_pipes(query)
    table = parts[0]
    if not re.fullmatch(r"\w+", table):
        raise HuntingError(f"Syntax error: '{table}' is not a supported tabular expression.")
    if table not in SCHEMAS:
        raise HuntingError(f"Failed to resolve table or column expression named '{table}'")
    schema = list(SCHEMAS[table])
    rows = _rows(table, store, now)
    total = len(rows)
    for op in parts[1:]:
        schema, rows = _apply(op, schema, rows, now)
    return {
        "Stats": {
            "ExecutionTime": 0.0312,
            "resource_usage": {
                "cache": {
                    "memory": {"hits": 12, "misses": 0, "total": 12},
                    "disk": {"hits": 0, "misses": 0, "total": 0},
                },
                "cpu": {
                    "user": "00:00:00.0156250",
                    "kernel": "00:00:00",
                    "total cpu": "00:00:00.0156250",
                },
                "memory": {"peak_per_node": 2097152},
            },
            "dataset_statistics": [{"table_row_count": total, "table_size": total * 412}],
        },
        "Schema": [{"Name": n, "Type": t} for n, t in schema],
        "Results": rows,
    }


def _apply(
    op: str, schema: list[tuple[str, str]], rows: list[dict[str, Any]], now: int
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    names = [n for n, _ in schema]
    word = op.split(None, 1)[0] if op else ""
    if not op:
        raise HuntingError("Syntax error: empty pipe segment.")
    if word == "where":
        cond = op[5:].strip()
        if m := _AGO.match(cond):
            cutoff = format_ticks(now - int(m.group(2)) * _UNIT[m.group(3)])
            return schema, [r for r in rows if r["Timestamp"] > cutoff]
        if (m := _EQ.match(cond)) and m.group(1) in names:
            value = m.group(2) if m.group(2) is not None else m.group(3)
            return schema, [r for r in rows if str(r[m.group(1)]) == value]
        if not cond:
            raise HuntingError("Syntax error: 'where' needs a predicate.")
        return schema, rows
    if word == "project":
        cols = [c.strip() for c in op[7:].split(",") if c.strip()]
        for col in cols:
            if col not in names:
                raise HuntingError(f"Failed to resolve scalar expression named '{col}'")
        types = dict(schema)
        return [(c, types[c]) for c in cols], [{c: r[c] for c in cols} for r in rows]
    if m := _TAKE.match(op):
        return schema, rows[: int(m.group(1))]
    if (m := _TOP.match(op)) or (m := _ORDER.match(op)):
        col = m.group(2) if m.re is _TOP else m.group(1)
        if col not in names:
            raise HuntingError(f"Failed to resolve scalar expression named '{col}'")
        direction = m.group(3) if m.re is _TOP else m.group(2)
        ordered = sorted(rows, key=lambda r: str(r[col]), reverse=direction != "asc")
        return schema, ordered[: int(m.group(1))] if m.re is _TOP else ordered
    if m := _SUMMARIZE.match(op):
        col = m.group(1)
        if col not in names:
            raise HuntingError(f"Failed to resolve scalar expression named '{col}'")
        counts: dict[Any, int] = {}
        for r in rows:
            counts[r[col]] = counts.get(r[col], 0) + 1
        types = dict(schema)
        return [(col, types[col]), ("count_", "Int64")], [
            {col: k, "count_": v} for k, v in counts.items()
        ]
    if op == "count":
        return [("Count", "Int64")], [{"Count": len(rows)}]
    raise HuntingError(f"Query operator '{word}' is not supported by the emulator.")

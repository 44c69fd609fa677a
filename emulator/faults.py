"""Fault injection for tests (§11.3): forced 429/500/503, slow answers, dropped connections,
malformed JSON and consent revoked mid-run."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = ("429", "500", "503", "slow", "drop", "malformed_json", "revoke_consent")
_ids = itertools.count(1)


@dataclass
class Fault:
    """One armed fault.

    Matching requests are those whose tenant (path tenant or token `tid`) equals `tenant_id`
    (when set) and whose path starts with `path_prefix` (when set); admin requests never match.
    The first `after` matching requests pass untouched; the next `count` get the fault.
    `retry_after` (seconds) is the Retry-After of a 429 (default 1); `delay` is the pause of
    "slow" (default 1.0 s). "revoke_consent" removes the tenant's consent (not_consented) once,
    just before the (after+1)-th matching request is handled.
    """

    kind: str
    tenant_id: str | None = None
    path_prefix: str | None = None
    count: int = 1
    after: int = 0
    retry_after: int | None = None
    delay: float | None = None
    id: int = field(default_factory=lambda: next(_ids))
    seen: int = 0
    fired: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


class FaultBook:
    """Armed faults; `match` consumes them in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        """Arm `fault`; ValueError for an unknown kind or bad numbers."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; expected one of {FAULT_KINDS}")
        if fault.count < 1 or fault.after < 0:
            raise ValueError("count must be >= 1 and after >= 0")
        if fault.kind == "revoke_consent" and not fault.tenant_id:
            raise ValueError("revoke_consent needs tenant_id")
        with self._lock:
            self._faults.append(fault)
        return fault

    def match(self, path: str, tenant_id: str | None) -> list[Fault]:
        """Faults that fire for this request (each counted once); exhausted ones are removed."""
        fired = []
        with self._lock:
            for fault in self._faults:
                if fault.tenant_id and (tenant_id or "").lower() != fault.tenant_id.lower():
                    continue
                if fault.path_prefix and not path.startswith(fault.path_prefix):
                    continue
                fault.seen += 1
                if fault.seen > fault.after and fault.fired < fault.count:
                    fault.fired += 1
                    fired.append(fault)
            self._faults = [f for f in self._faults if f.fired < f.count]
        return fired

    def pending(self) -> list[dict[str, Any]]:
        """Faults not yet exhausted."""
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._faults.clear()

"""`EmulatorServer`: the public, in-process face of the emulator (docs/emulator-interface.md).

server = EmulatorServer(data_dir, port=0, seed=42, tenants=[TenantSpec(...)], knobs=Knobs())
server.start()   # returns once listening; serves from a background thread
...              # server.url, server.ca_path, server.client_id, server.config, ...
server.stop()
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import pki
from .core import EmulatorCore
from .directory import TenantSpec, default_tenant_specs
from .faults import Fault
from .httpio import TLSServer
from .knobs import Knobs

__all__ = ["EmulatorServer", "Knobs", "TenantInfo", "TenantSpec"]


@dataclass(frozen=True)
class TenantInfo:
    """A tenant as tests see it; attributes or `info["tenant_id"]` both work."""

    tenant_id: str
    name: str
    domain: str
    state: str
    incidents: int
    roles: tuple[str, ...]

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


class EmulatorServer:
    """One HTTPS listener serving login, the Defender API and `/_emulator/` admin endpoints.

    data_dir: where ca.pem, client_cert.pem and config.json go (created if missing).
    port: 0 picks a free port. seed: drives ids, names and incident data.
    tenants: TenantSpec list (default: the CLI's six-tenant set). knobs: Knobs (mutable later).
    churn_seconds: background churn period (None/0 = off); churn_steps changes per period.
    redirect_uris: registered in addition to the defaults. anchor_time: Unix seconds the
    generated history ends at (default: now); fix it to compare payloads across runs.
    prewarm: serialise incidents in a background thread after start() and reset() so the first
    sync pass is served from cache (bounded by the cache size).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        port: int = 0,
        seed: int = 42,
        tenants: list[TenantSpec] | None = None,
        knobs: Knobs | None = None,
        *,
        host: str = "127.0.0.1",
        churn_seconds: float | None = None,
        churn_steps: int = 3,
        redirect_uris: list[str] | None = None,
        anchor_time: float | None = None,
        prewarm: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self._requested_port = port
        self.churn_seconds = churn_seconds
        self.churn_steps = churn_steps
        self.prewarm = prewarm
        self.keys = pki.load_or_create(self.data_dir)
        self._config_path = self.data_dir / "config.json"
        self._config_path.unlink(missing_ok=True)  # present only while serving
        self.core = EmulatorCore(
            keys=self.keys,
            seed=seed,
            tenants=tenants if tenants is not None else default_tenant_specs(),
            knobs=knobs or Knobs(),
            redirect_uris=redirect_uris,
            anchor=anchor_time,
        )
        self._httpd: TLSServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._config_lock = threading.Lock()
        self.core.listeners.append(self._write_config)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        """Bind, write config.json, serve in a daemon thread; returns once listening."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = TLSServer(
            (self.host, self._requested_port), self.keys.server_context(), self.core.dispatch
        )
        serve = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="emulator-http",
            daemon=True,
        )
        serve.start()
        self._threads = [serve]
        if self.churn_seconds:
            churn = threading.Thread(target=self._churn_loop, name="emulator-churn", daemon=True)
            churn.start()
            self._threads.append(churn)
        self._start_prewarm()
        self._write_config()
        return self

    def _start_prewarm(self) -> None:
        if self.prewarm and self._httpd is not None:
            warm = threading.Thread(
                target=self.core.prewarm,
                args=(self._stopping,),
                name="emulator-prewarm",
                daemon=True,
            )
            warm.start()
            self._threads.append(warm)

    def stop(self) -> None:
        """Stop serving and close client connections."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
            with self._config_lock:
                self._httpd = None
                self._config_path.unlink(missing_ok=True)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _churn_loop(self) -> None:
        assert self.churn_seconds
        while not self._stopping.wait(self.churn_seconds):
            self.core.churn(self.churn_steps)

    # -- addresses and credentials -------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (after start())."""
        if self._httpd is None:
            raise RuntimeError("the emulator is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """`https://127.0.0.1:<port>`: authority host, API base and admin base in one."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"https://{host}:{self.port}"

    @property
    def ca_path(self) -> Path:
        """The CA certificate to trust (REQUESTS_CA_BUNDLE / requests `verify=`)."""
        return self.keys.ca_path

    @property
    def client_id(self) -> str:
        """The partner app's client ID."""
        return self.core.app.client_id

    @property
    def client_secret(self) -> str:
        """The partner app's client secret (also the X-Emulator-Key)."""
        return self.core.app.client_secret

    @property
    def client_certificate_path(self) -> Path:
        """PEM with the app's private key and certificate (certificate credential)."""
        return self.keys.client_cert_path

    @property
    def client_certificate_thumbprint(self) -> str:
        """SHA-1 thumbprint (hex) of the app certificate, as MSAL's `thumbprint` wants."""
        return self.keys.client.sha1_hex

    @property
    def config(self) -> dict[str, Any]:
        """The dict written to config.json."""
        core = self.core
        with core.lock:
            tenants = []
            for t in core.directory.tenants:
                entry = t.public()
                entry["incidents"] = len(core.stores[t.tenant_id])
                tenants.append(entry)
            redirect_uris = list(core.app.redirect_uris)
        return {
            "authority_host": self.url,
            "api_url": self.url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "client_certificate_path": str(self.client_certificate_path),
            "client_certificate_thumbprint": self.client_certificate_thumbprint,
            "ca_path": str(self.ca_path),
            "admin_url": self.url + "/_emulator",
            "redirect_uris": redirect_uris,
            "tenants": tenants,
        }

    def _write_config(self) -> None:
        if self._httpd is None:
            return
        with self._config_lock:
            if self._httpd is None:
                return
            data = json.dumps(self.config, indent=2).encode()
            tmp = self.data_dir / f".config.json.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._config_path)

    # -- state -------------------------------------------------------------------------------
    @property
    def knobs(self) -> Knobs:
        """Mutable knobs, read on every request."""
        return self.core.knobs

    @property
    def tenants(self) -> list[TenantInfo]:
        """Every tenant with tenant_id, name, domain, state, incidents, roles."""
        core = self.core
        with core.lock:
            return [
                TenantInfo(
                    t.tenant_id,
                    t.name,
                    t.domain,
                    t.state,
                    len(core.stores[t.tenant_id]),
                    tuple(t.roles),
                )
                for t in core.directory.tenants
            ]

    def tenant(self, state: str | None = None, name: str | None = None) -> TenantInfo:
        """The first tenant in `state` and/or named `name`; LookupError if none."""
        for info in self.tenants:
            if (state is None or info.state == state) and (name is None or info.name == name):
                return info
        raise LookupError(f"no tenant with state={state!r} name={name!r}")

    def register_redirect_uri(self, uri: str) -> None:
        """Register one more redirect URI for the app."""
        with self.core.lock:
            if uri not in self.core.app.redirect_uris:
                self.core.app.redirect_uris.append(uri)
        self._write_config()

    def set_tenant_state(self, tenant_id: str, state: str, roles: list[str] | None = None) -> None:
        """ "consented" | "not_consented" | "no_roles"; `roles` (addition) picks granted roles."""
        self.core.set_tenant_state(tenant_id, state, roles)

    def set_secret_expired(self, expired: bool) -> None:
        """Make the client secret expired (AADSTS7000222) or valid again."""
        self.core.app.secret_expired = bool(expired)

    def add_fault(
        self,
        kind: str,
        *,
        tenant_id: str | None = None,
        path_prefix: str | None = None,
        count: int = 1,
        after: int = 0,
        retry_after: int | None = None,
        delay: float | None = None,
    ) -> Fault:
        """Arm a fault ("429", "500", "503", "slow", "drop", "malformed_json",
        "revoke_consent"); see `emulator.faults.Fault` for matching."""
        return self.core.faults.add(
            Fault(kind, tenant_id, path_prefix, count, after, retry_after, delay)
        )

    def add_incident(self, tenant_id: str, **overrides: Any) -> dict[str, Any]:
        """New incident with alerts created now; wire-named overrides (status, severity,
        assignedTo, classification, determination, tags, incidentName, alertCount)."""
        return self.core.add_incident(tenant_id, overrides)

    def update_incident(self, tenant_id: str, incident_id: int, **fields: Any) -> dict[str, Any]:
        """Change wire-named fields (plus `comment`, `newAlert=True`); lastUpdateTime = now."""
        return self.core.update_incident(tenant_id, incident_id, fields)

    def get_incident(self, tenant_id: str, incident_id: int) -> dict[str, Any]:
        """The incident payload in the current null style; KeyError if unknown."""
        core = self.core
        with core.lock:
            store = core.stores[core.directory.get(tenant_id).tenant_id]
            return store.render(store.by_id[int(incident_id)], core.knobs.null_style == "live")

    def incident_ids(self, tenant_id: str) -> list[int]:
        """Incident ids in the §5.1 default list order (createdTime desc, incidentId desc),
        whatever knob `list_order` makes the API answer."""
        core = self.core
        with core.lock:
            store = core.stores[core.directory.get(tenant_id).tenant_id]
            return [r.incident_id for r in store.records]

    def churn(self, steps: int = 1) -> list[dict[str, Any]]:
        """Apply `steps` random changes now (what the background churn does)."""
        return self.core.churn(steps)

    def incident_count(self, tenant_id: str) -> int:
        """Number of incidents of the tenant."""
        core = self.core
        with core.lock:
            return len(core.stores[core.directory.get(tenant_id).tenant_id])

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Logged requests (method, path, query, tenant_id, status, kind, ...), redacted."""
        return list(self.core.log)

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.core.log.clear()

    def reset(self) -> None:
        """Initial seeded state: data, tenant states, knobs, faults, throttle windows, log."""
        self.core.reset()
        self._threads = [t for t in self._threads if t.is_alive()]
        self._start_prewarm()

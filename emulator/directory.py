"""The emulated directory: the partner app registration and the customer tenants (§2, §11.1)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .constants import DEFAULT_REDIRECT_URIS, TENANT_KEYWORDS, TENANT_STATES

TENANT_NAMES = (
    "Contoso",
    "Fabrikam",
    "Northwind Traders",
    "Tailspin Toys",
    "Woodgrove Bank",
    "Litware",
    "Adatum",
    "Alpine Ski House",
    "Coho Winery",
    "Wide World Importers",
    "Proseware",
    "Fourth Coffee",
    "Lamna Healthcare",
    "Relecloud",
    "Trey Research",
    "VanArsdel",
    "Wingtip Toys",
    "Humongous Insurance",
    "Margie's Travel",
    "Lucerne Publishing",
)
#: Default tenant set: at least one of each state, several not_consented of different sizes.
DEFAULT_SIZES = (500, 150, 2000, 300, 40, 1200)
DEFAULT_STATES = ("consented", "no_roles", "not_consented")


def det_uuid(*parts: object) -> str:
    """A version-4-shaped GUID derived from `parts` (deterministic from the seed)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def det_secret(*parts: object) -> str:
    """A 40-character client secret in Entra's shape (`xxx8Q~...`), deterministic from `parts`."""
    digest = hashlib.sha256(("secret:" + ":".join(str(p) for p in parts)).encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
    body = "".join(alphabet[b % len(alphabet)] for b in digest + digest[:5])
    return body[:3] + "8Q~" + body[3:37]


def slug(name: str) -> str:
    """`Margie's Travel` -> `margiestravel`."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


@dataclass
class TenantSpec:
    """How to create one tenant. Omitted fields are derived from the seed and the index.

    state: "consented" | "not_consented" | "no_roles"; roles: granted roles when consented
    (default: `Knobs.granted_roles()`); incidents: initial incident count (0..100,000).
    """

    name: str | None = None
    state: str = "not_consented"
    incidents: int = 50
    domain: str | None = None
    tenant_id: str | None = None
    roles: list[str] | None = None


def default_tenant_specs(
    count: int | None = None,
    sizes: list[int] | None = None,
    states: list[str] | None = None,
) -> list[TenantSpec]:
    """The CLI's tenant set: `count` tenants (default: len(sizes) or 6), sizes and states cycled.

    Default states: first consented, second no_roles, the rest not_consented.
    """
    sizes = list(sizes or DEFAULT_SIZES)
    n = count if count is not None else (len(sizes) if sizes else len(DEFAULT_SIZES))
    specs = []
    for i in range(n):
        state = states[i % len(states)] if states else DEFAULT_STATES[min(i, 2)]
        specs.append(TenantSpec(state=state, incidents=sizes[i % len(sizes)]))
    return specs


@dataclass
class TenantRecord:
    """A tenant at run time. `state` is derived from `sp_exists` and `roles` (§11.1)."""

    index: int
    tenant_id: str
    name: str
    domain: str
    sp_exists: bool
    roles: list[str]
    sp_oid: str
    incidents: int
    consented_at: float = 0.0

    @property
    def state(self) -> str:
        """ "consented" (SP with roles), "no_roles" (SP without roles) or "not_consented"."""
        if not self.sp_exists:
            return "not_consented"
        return "consented" if self.roles else "no_roles"

    def public(self) -> dict[str, Any]:
        """The config.json entry: tenant_id, name, domain, state, incidents."""
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "domain": self.domain,
            "state": self.state,
            "incidents": self.incidents,
        }


@dataclass
class AppRegistration:
    """The multi-tenant partner app: ids, secret, redirect URIs (§2) and certificate (§3.1)."""

    client_id: str
    client_secret: str
    secret_id: str
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    secret_expired: bool = False

    def redirect_allowed(self, uri: str, *, exact: bool) -> bool:
        """Is `uri` registered? v2 consent needs an exact match (§2.3); /adminconsent and the v1
        authorize link also accept extra trailing path segments (§2.2)."""
        if uri in self.redirect_uris:
            return True
        if exact or not uri:
            return False
        given = urlsplit(uri)
        for registered in self.redirect_uris:
            reg = urlsplit(registered)
            if (reg.scheme, reg.netloc) != (given.scheme, given.netloc) or given.query:
                continue
            base = reg.path.rstrip("/")
            if given.path.startswith(base + "/"):
                return True
        return False


class Directory:
    """Tenants by GUID and domain. Not thread-safe: callers hold the emulator lock."""

    def __init__(self, tenants: list[TenantRecord]) -> None:
        self.tenants = tenants
        self._by_key: dict[str, TenantRecord] = {}
        for t in tenants:
            self._by_key[t.tenant_id.lower()] = t
            self._by_key[t.domain.lower()] = t

    def resolve(self, path_tenant: str) -> TenantRecord | None:
        """Tenant named by a GUID or a domain (case-insensitive); None if unknown or a keyword."""
        if path_tenant.lower() in TENANT_KEYWORDS:
            return None
        return self._by_key.get(path_tenant.lower())

    def get(self, tenant_id: str) -> TenantRecord:
        """Tenant by GUID or domain; KeyError if unknown."""
        tenant = self.resolve(tenant_id)
        if tenant is None:
            raise KeyError(f"unknown tenant {tenant_id!r}")
        return tenant


def build_tenants(
    seed: int, specs: list[TenantSpec], default_roles: list[str]
) -> list[TenantRecord]:
    """Tenant records for `specs`; GUIDs, names and domains derived from `seed` when omitted.

    Raises ValueError for an unknown state or duplicate tenant ids/domains.
    """
    records: list[TenantRecord] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.state not in TENANT_STATES:
            raise ValueError(f"unknown tenant state {spec.state!r}")
        if not 0 <= spec.incidents <= 100_000:
            raise ValueError("incidents must be between 0 and 100,000")
        base = TENANT_NAMES[i % len(TENANT_NAMES)]
        name = spec.name or (base if i < len(TENANT_NAMES) else f"{base} {i // len(TENANT_NAMES)}")
        domain = spec.domain or f"{slug(name)}-demo.example"
        tenant_id = (spec.tenant_id or det_uuid(seed, "tenant", i)).lower()
        if tenant_id in seen or domain.lower() in seen:
            raise ValueError(f"duplicate tenant id or domain: {tenant_id} / {domain}")
        seen.update((tenant_id, domain.lower()))
        roles: list[str] = []
        if spec.state == "consented":
            roles = list(spec.roles if spec.roles is not None else default_roles)
            if not roles:
                raise ValueError("a consented tenant needs at least one role")
        records.append(
            TenantRecord(
                index=i,
                tenant_id=tenant_id,
                name=name,
                domain=domain,
                sp_exists=spec.state != "not_consented",
                roles=roles,
                sp_oid=det_uuid(seed, "sp", tenant_id),
                incidents=spec.incidents,
            )
        )
    return records

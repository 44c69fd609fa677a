"""Runtime knobs (§11.3) and the single clock every "now" goes through."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .constants import DEFAULT_APP_NAME, DEFAULT_APP_PERMISSIONS

NULL_STYLES = ("live", "doc")
TOP_OVER_MAX = ("reject", "clamp")
#: `list_order` values (§5.1): the documented order, its reverse, or no dependable order.
LIST_ORDERS = ("created_desc", "created_asc", "unstable")
#: `error_description_separator` values (§3.3) and the text each stands for.
DESCRIPTION_SEPARATORS = {"crlf": "\r\n", "space": " "}
#: `token_aud` values (§4, v1 `aud`): the App ID URI as requested, or the resource's app ID.
TOKEN_AUDS = ("app_id_uri", "app_id")


@dataclass
class Knobs:
    """Mutable behaviour switches; `EmulatorServer.knobs` is read on every request.

    Contract knobs (§11.3):
      null_style: "live" (entity nulls omitted, live extras) or "doc" (all keys, `MailBox`).
      next_link: add `@odata.nextLink` to list pages that have more rows (§5.1).
      top_over_max: "reject" ($top > 100 -> 400 ODataError) or "clamp" (to 100).
      default_page_size: rows when no $top is given (<= 100).
      token_expires_in: access-token lifetime in seconds (`expires_in`, `exp - iat`), >= 300;
        expire tokens in tests with clock_offset_seconds instead.
      consent_grants_roles: "all" (the app's permissions), "none", or a list of role names.
      consent_propagation_seconds: seconds after consent during which tokens still get 7000229.
      clock_offset_seconds: added to wall time for every "now" (expire tokens in tests).
    Emulator additions:
      rate_limit_per_minute / rate_limit_per_hour: list and PATCH limits per (tid, app) (§5.8);
        the hour limit also applies to get-by-id. 0 disables a limit.
      rate_limit_get_per_minute: get-by-id per minute (§5.8, 100).
      rate_limit_hunting_per_minute: advanced hunting per minute (§5.8, 45).
      latency_seconds: delay added before answering every non-admin request.
      deflate: answer API JSON with `Content-Encoding: deflate` when the client accepts it (§5.2).
      chunked: send API JSON with `Transfer-Encoding: chunked` (§5.2) instead of Content-Length.
      revocation_immediate: API checks the tenant's current grants instead of the token's
        `roles` (not consented -> 401, no roles -> 403); off = Microsoft's behaviour, where an
        issued token keeps working until it expires (§11.1).
      app_name / app_permissions: what the consent page shows and "all" grants.
    Points the contract leaves open or reports as varying (default = the emulator's first
    choice, unchanged):
      list_order: row order of `GET /api/incidents` (§5.1). "created_desc" (createdTime desc,
        then incidentId desc; the docs' "newest first"), "created_asc" (the exact reverse), or
        "unstable" (third parties report the list as unordered). "unstable" answers every
        request with a permutation of all matching rows, seeded by the request itself (tenant,
        data version, $filter, $top, $skip), and then cuts the page: a page never repeats or
        loses a row, and the same request against unchanged data gets the same page, but two
        pages of one $skip walk come from different permutations, so the walk can miss some
        rows and return others twice. That models a server whose order nobody promised: a
        client that pages with $skip and trusts the order is wrong in exactly this way.
      retry_after_header: 429s from the Defender API carry `Retry-After` (True; MDE documents
        it) or not (False; XDR documents only the reset time in the body) (§9). The body is
        the same either way. Entra 429s are not affected.
      error_description_separator: what joins `AADSTS{n}: {msg}`, `Trace ID`, `Correlation ID`
        and `Timestamp` in a token/discovery error's `error_description`: "crlf" ("\\r\\n")
        or "space" (" "); captures show both (§3.3). Consent redirects keep a space.
      token_aud: the `aud` of issued access tokens (v1-shaped, §4): "app_id_uri" (the
        identifier as requested, e.g. `https://api.security.microsoft.com`) or "app_id" (the
        resource app's client ID, e.g. `8ee8fdad-f234-4243-8f3b-15c294843740`; §1 table). The
        API accepts both forms either way.
    """

    null_style: str = "live"
    next_link: bool = False
    top_over_max: str = "reject"
    default_page_size: int = 100
    token_expires_in: int = 3599
    consent_grants_roles: str | list[str] = "all"
    consent_propagation_seconds: float = 0.0
    clock_offset_seconds: float = 0.0
    rate_limit_per_minute: int = 50
    rate_limit_per_hour: int = 1500
    rate_limit_get_per_minute: int = 100
    rate_limit_hunting_per_minute: int = 45
    latency_seconds: float = 0.0
    deflate: bool = True
    chunked: bool = True
    revocation_immediate: bool = False
    app_name: str = DEFAULT_APP_NAME
    app_permissions: list[str] = field(default_factory=lambda: list(DEFAULT_APP_PERMISSIONS))
    list_order: str = "created_desc"
    retry_after_header: bool = True
    error_description_separator: str = "crlf"
    token_aud: str = "app_id_uri"

    def validate(self) -> None:
        """Raise ValueError when a knob holds a value outside its documented range."""
        if self.null_style not in NULL_STYLES:
            raise ValueError(f"null_style must be one of {NULL_STYLES}")
        if self.top_over_max not in TOP_OVER_MAX:
            raise ValueError(f"top_over_max must be one of {TOP_OVER_MAX}")
        if self.list_order not in LIST_ORDERS:
            raise ValueError(f"list_order must be one of {LIST_ORDERS}")
        if self.error_description_separator not in DESCRIPTION_SEPARATORS:
            raise ValueError(
                f"error_description_separator must be one of {tuple(DESCRIPTION_SEPARATORS)}"
            )
        if self.token_aud not in TOKEN_AUDS:
            raise ValueError(f"token_aud must be one of {TOKEN_AUDS}")
        if not isinstance(self.retry_after_header, bool):
            raise ValueError("retry_after_header must be true or false")
        if not 1 <= int(self.default_page_size) <= 100:
            raise ValueError("default_page_size must be between 1 and 100")
        if int(self.token_expires_in) < 300:
            # MSAL treats tokens with < 5 min left as expired: nothing would be cached (§10.3).
            raise ValueError("token_expires_in must be >= 300 (§11.2)")
        roles = self.consent_grants_roles
        if isinstance(roles, str) and roles not in ("all", "none"):
            raise ValueError("consent_grants_roles must be 'all', 'none' or a list of roles")
        for name in (
            "rate_limit_per_minute",
            "rate_limit_per_hour",
            "rate_limit_get_per_minute",
            "rate_limit_hunting_per_minute",
        ):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0 (0 disables the limit)")
        if self.latency_seconds < 0 or self.consent_propagation_seconds < 0:
            raise ValueError("latency_seconds and consent_propagation_seconds must be >= 0")

    def update(self, values: Mapping[str, Any]) -> None:
        """Set several knobs from a mapping (admin endpoint); unknown names raise ValueError.

        The update is atomic: on any invalid value nothing changes.
        """
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(unknown)}")
        trial = dataclasses.replace(self, **values)
        trial.validate()
        for key in values:
            setattr(self, key, getattr(trial, key))

    def restore(self, other: Knobs) -> None:
        """Copy every field of `other` into this object (keeps references held by tests valid)."""
        for f in dataclasses.fields(self):
            value = getattr(other, f.name)
            setattr(self, f.name, list(value) if isinstance(value, list) else value)

    def copy(self) -> Knobs:
        """An independent copy."""
        clone = Knobs()
        clone.restore(self)
        return clone

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every knob."""
        return dataclasses.asdict(self)

    def description_separator(self) -> str:
        """The text `error_description_separator` stands for (§3.3)."""
        return DESCRIPTION_SEPARATORS[self.error_description_separator]

    def granted_roles(self) -> list[str]:
        """Roles an accepted consent grants: resolves "all"/"none"/list (§2.3 emulator choice)."""
        roles = self.consent_grants_roles
        if roles == "all":
            return list(self.app_permissions)
        if roles == "none":
            return []
        return list(roles)


class Clock:
    """Wall time shifted by `knobs.clock_offset_seconds`; all "now" values come from here."""

    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs

    def now(self) -> float:
        """Current emulator time as Unix seconds (float)."""
        return time.time() + float(self._knobs.clock_offset_seconds)

    def ticks(self) -> int:
        """Current emulator time in 100 ns ticks since the Unix epoch (7 fraction digits)."""
        return int(self.now() * 10_000_000)

"""Defender XDR API client (contract §5, §9): list and get incidents for one customer tenant.

Every call: a token from ``microsoft.entra`` (shared cache), a slot from the per-tenant call
limiter, connect and read timeouts, and bounded retries with exponential backoff and jitter for
timeouts, dropped connections (and bodies cut or garbled in transit) and 5xx. A 401 drops the
cached token and retries once with a new one; a 403 ``Forbidden`` means consent without roles
(other 403 codes are plain API errors); a 429 raises ThrottledError carrying Retry-After.

Paging (§5.1): an ``@odata.nextLink`` is returned only when it is on DEFENDER_API_URL's origin;
any other is dropped (logged without its query) and the caller continues with ``$skip``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings

from microsoft import entra, errors
from microsoft.http import build_session, decode_json, http_date, parse_retry_after, timeouts

logger = logging.getLogger(__name__)

# Defender API: List incidents, $top at most 100 (§5.1).
MAX_PAGE_SIZE = 100
# Bytes: a list page larger than this is refused as oversized (100 incidents are ~1–3 MB).
MAX_PAGE_BYTES = 32 * 1024 * 1024
# Attempts for transient failures (timeouts, dropped connections, 5xx), and backoff in seconds.
MAX_ATTEMPTS = 4
BACKOFF_BASE = 1.0
BACKOFF_CAP = 20.0
# Seconds to wait on a 429 without a readable Retry-After (§9). Retry-After values are
# clamped to [1, 3600] s (``microsoft.http.parse_retry_after``).
DEFAULT_RETRY_AFTER = 60.0
# Default ports, so "https://host:443" and "https://host" count as one origin.
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Exceptions of a call that are worth retrying: the connection failed, timed out, or its body
# was cut (ChunkedEncodingError) or arrived garbled (ContentDecodingError: a broken deflate
# stream, e.g. a proxy or load balancer cutting the connection mid-body).
_TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class CallLimiter(Protocol):
    """Grants permission for one API call to a tenant, waiting if needed.

    ``acquire`` returns the seconds it waited; it raises ThrottledError when the tenant may not
    be called for longer than the caller is willing to wait.
    """

    def acquire(self, tenant_id: str) -> float:
        """Take one call slot for ``tenant_id``; returns the seconds waited. Raises
        ThrottledError (``retry_after`` in seconds) when the wait would be too long."""
        ...

    def block(self, tenant_id: str, seconds: float) -> None:
        """Let no call go to ``tenant_id`` for ``seconds`` (a 429's Retry-After, finite and
        already clamped to [1, 3600] by the client), in every process sharing the limiter."""
        ...


@dataclass
class CallStats:
    """Counters of one client's work, for the sync history and logs."""

    api_calls: int = 0
    token_requests: int = 0
    throttled_waits: int = 0
    throttled_seconds: float = 0.0
    retries: int = 0


@dataclass
class IncidentPage:
    """One page of ``GET /api/incidents``: ``incidents`` as sent (not yet validated: see
    ``incidents.parsing``), ``next_link`` if any, ``raw_size`` in bytes, and ``server_time``, the
    response's ``Date`` header (aware UTC; None if absent or unreadable)."""

    incidents: list[Any]
    next_link: str | None
    raw_size: int
    server_time: datetime | None = None


_shared_sessions: dict[int, requests.Session] = {}


def shared_session() -> requests.Session:
    """This process's keep-alive session for the Defender API (one per process, created after
    a fork, so prefork workers never share sockets)."""
    pid = os.getpid()
    session = _shared_sessions.get(pid)
    if session is None:
        _shared_sessions.clear()
        session = _shared_sessions[pid] = build_session()
    return session


@dataclass
class DefenderClient:
    """Defender API calls for one tenant. Not thread-safe; build one per sync."""

    tenant_id: str
    limiter: CallLimiter | None = None
    session: requests.Session = field(default_factory=shared_session)
    stats: CallStats = field(default_factory=CallStats)
    sleep: Callable[[float], None] = time.sleep
    _token: entra.AccessToken | None = field(default=None, repr=False)

    def list_incidents(
        self, *, filter: str | None = None, top: int = MAX_PAGE_SIZE, skip: int = 0
    ) -> IncidentPage:
        """``GET /api/incidents?$filter=..&$top=..&$skip=..`` (§5.1); newest first.

        Raises ThrottledError, MissingRolesError (403 ``Forbidden``), UnauthorizedError,
        DefenderApiError (other 4xx, including 403 ``DisabledFeature``/``DisallowedOperation``),
        TransientError (after retries) or BadResponseError (malformed JSON, wrong shape,
        oversized page).
        """
        if not 1 <= top <= MAX_PAGE_SIZE:
            raise ValueError(f"$top must be 1..{MAX_PAGE_SIZE}")
        params: dict[str, str | int] = {"$top": top}
        if skip:
            params["$skip"] = skip
        if filter:
            params["$filter"] = filter
        # "$" and ":" stay literal and spaces become "+", as the contract writes the query
        # (§5.1: $filter=lastUpdateTime+ge+2025-01-01T00:00:00.0000000Z).
        url = f"{settings.DEFENDER_API_URL}/api/incidents?{urlencode(params, safe='$:')}"
        return self.list_incidents_url(url)

    def list_incidents_url(self, url: str) -> IncidentPage:
        """Fetch a list page by absolute URL (the first page, or an ``@odata.nextLink``).

        The URL must be on DEFENDER_API_URL's origin (``same_origin``), else BadResponseError
        ``bad_next_link`` before any call: the bearer token never goes to another host. A page
        whose ``@odata.nextLink`` is on another origin (or not an absolute https URL) comes back
        with ``next_link=None``, so the caller pages on with ``$skip`` (§5.1) instead of storing
        a link that every later fetch would refuse; a warning names the link's host and path,
        never its query.
        """
        if not same_origin(url, settings.DEFENDER_API_URL):
            raise errors.BadResponseError(
                "The Defender API sent a next link to another host; it was not followed.",
                code="bad_next_link",
            )
        body, size, server_time = self._get_json(url)
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, list):
            raise errors.BadResponseError(
                "The incidents page has no 'value' list.", code="bad_payload"
            )
        next_link = body.get("@odata.nextLink")
        if next_link is not None and not isinstance(next_link, str):
            raise errors.BadResponseError(
                "The incidents page's @odata.nextLink is not a string.", code="bad_payload"
            )
        if next_link is not None and not same_origin(next_link, settings.DEFENDER_API_URL):
            parts = urlsplit(next_link)
            logger.warning(
                "defender tenant=%s ignored_next_link=%s://%s%s: not on the API's origin; "
                "paging continues with $skip",
                self.tenant_id,
                parts.scheme,
                parts.hostname or "",
                parts.path,
            )
            next_link = None
        return IncidentPage(
            incidents=value, next_link=next_link, raw_size=size, server_time=server_time
        )

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        """``GET /api/incidents/{id}`` (§5.2). Raises DefenderApiError(404) if unknown."""
        body, _, _ = self._get_json(f"{settings.DEFENDER_API_URL}/api/incidents/{int(incident_id)}")
        if not isinstance(body, dict) or "incidentId" not in body:
            raise errors.BadResponseError("The incident response has no incidentId.")
        return body

    # -- transport ------------------------------------------------------------------------

    def _bearer(self) -> str:
        if self._token is None:
            self._token = entra.get_token(self.tenant_id)
            if not self._token.from_cache:
                self.stats.token_requests += 1
        return self._token.token

    def _get_json(self, url: str) -> tuple[Any, int, datetime | None]:
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            if self.limiter is not None:
                waited = self.limiter.acquire(self.tenant_id)
                if waited > 0:
                    self.stats.throttled_waits += 1
                    self.stats.throttled_seconds += waited
            headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json"}
            self.stats.api_calls += 1
            try:
                response = self.session.get(url, headers=headers, timeout=timeouts(), stream=True)
                content = _read_limited(response, MAX_PAGE_BYTES)
            except _TRANSIENT_EXCEPTIONS as exc:
                self._backoff_or_raise(attempt, f"{type(exc).__name__} calling the Defender API")
                continue
            status = response.status_code
            if status == 200:
                try:
                    body, replaced = decode_json(content)
                except ValueError:
                    raise errors.BadResponseError(
                        "The Defender API returned malformed JSON.", code="malformed_json"
                    ) from None
                if replaced:
                    logger.warning(
                        "defender tenant=%s replaced_nul=%d: U+0000 in the response was "
                        "stored as U+FFFD (PostgreSQL cannot store U+0000)",
                        self.tenant_id,
                        replaced,
                    )
                return body, len(content), _server_time(response)
            if status == 401 and not reauthenticated:
                reauthenticated = True
                entra.invalidate_token(self.tenant_id)
                self._token = None
                continue
            if status == 429:
                retry_after = _retry_after(response)
                if self.limiter is not None:
                    self.limiter.block(self.tenant_id, retry_after)
                raise errors.ThrottledError(
                    f"The Defender API throttled this tenant for {retry_after:.0f} s.",
                    retry_after=retry_after,
                )
            if status >= 500:
                self._backoff_or_raise(attempt, f"Defender API HTTP {status}")
                continue
            raise _api_error(status, content)

    def _backoff_or_raise(self, attempt: int, what: str) -> None:
        if attempt >= MAX_ATTEMPTS:
            raise errors.TransientError(
                f"{what} (gave up after {attempt} attempts)", code="transient"
            )
        delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
        self.stats.retries += 1
        logger.warning(
            "defender retry tenant=%s attempt=%d delay=%.2f reason=%s",
            self.tenant_id,
            attempt,
            delay,
            what,
        )
        self.sleep(delay)


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL with the default port filled in; None
    for a relative URL, another scheme, user info (``user@host``) or an unreadable port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def same_origin(url: str, base: str) -> bool:
    """True when ``url`` has ``base``'s scheme, host and port (RFC 6454 origin).

    Case-insensitive, with default ports normalised (``https://h:443/x`` is on ``https://h``).
    False for relative URLs, other schemes and URLs carrying user info (requests would turn
    ``user@`` into an Authorization header replacing the bearer token).
    """
    origin = _origin(url)
    return origin is not None and origin == _origin(base)


def _server_time(response: requests.Response) -> datetime | None:
    """The response's ``Date`` header as an aware UTC datetime, or None (``http_date``)."""
    return http_date(response.headers.get("Date"))


def _read_limited(response: requests.Response, limit: int) -> bytes:
    """The response body, refusing bodies over ``limit`` bytes (BadResponseError)."""
    chunks, total = [], 0
    for chunk in response.iter_content(chunk_size=256 * 1024):
        total += len(chunk)
        if total > limit:
            response.close()
            raise errors.BadResponseError(
                f"The Defender API response exceeded {limit} bytes.", code="oversized_page"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(response: requests.Response) -> float:
    """Seconds from ``Retry-After`` (delay-seconds or HTTP-date, RFC 9110), clamped to
    [1, 3600]; DEFAULT_RETRY_AFTER when absent or unreadable (``inf``/``nan`` included). An
    HTTP-date is counted from the response's ``Date`` when it has one."""
    return parse_retry_after(
        response.headers.get("Retry-After"),
        default=DEFAULT_RETRY_AFTER,
        now=_server_time(response),
    )


# 403 codes other than "Forbidden" (§9), in plain words for the tenant page.
_FORBIDDEN_REASONS = {
    "DisabledFeature": "a feature this request needs is turned off for this tenant",
    "DisallowedOperation": "the operation is not allowed for this tenant",
}


def _api_error(status: int, content: bytes) -> errors.MicrosoftError:
    """Map a non-2xx Defender API response (§9 envelope) to an exception.

    403 with code ``Forbidden`` (or no readable code) → MissingRolesError (consent without
    roles); another 403 code (``DisabledFeature``, ``DisallowedOperation``) → DefenderApiError
    with status 403 and that code; 401 → UnauthorizedError; others → DefenderApiError.
    """
    code, message = "", ""
    try:
        envelope = json.loads(content).get("error", {})
        code, message = str(envelope.get("code", "")), str(envelope.get("message", ""))
    except (ValueError, AttributeError):
        pass
    if status == 403 and code not in ("", "Forbidden"):
        reason = _FORBIDDEN_REASONS.get(code, "access was refused")
        detail = f" Microsoft says: {message[:300]}" if message else ""
        return errors.DefenderApiError(
            f"The Defender API refused the request ({code}): {reason}; this is not a "
            f"missing permission.{detail}",
            status=status,
            code=code[:60],
        )
    if status == 403:
        return errors.MissingRolesError(
            "The Defender API refused access: the application has no incident permission "
            "(Incident.Read.All) in this tenant. Ask the customer to grant admin consent again.",
            missing=list(settings.REQUIRED_APP_ROLES),
            code="HTTP 403",
        )
    if status == 401:
        return errors.UnauthorizedError(
            "The Defender API rejected the access token.", status=status, code="Unauthorized"
        )
    return errors.DefenderApiError(
        message or f"The Defender API answered HTTP {status}.", status=status, code=code
    )

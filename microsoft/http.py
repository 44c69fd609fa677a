"""The requests session used for every call to Microsoft, the decoding of its JSON bodies, and
the reading of its ``Date`` and ``Retry-After`` headers.

Contract §10.5: when ``REQUESTS_CA_BUNDLE`` is set, requests lets the environment override
``session.verify``. We read the variable once into ``settings.REQUESTS_CA_BUNDLE`` and build
sessions with ``trust_env=False`` and ``verify`` set explicitly, so the configured bundle is
used for MSAL and the Defender API alike, whatever the process environment says.

``trust_env=False`` also stops requests from reading the proxy variables, so ``build_session``
copies ``HTTP_PROXY``/``HTTPS_PROXY`` into ``session.proxies`` itself, and keeps ``NO_PROXY``
on the session (``MicrosoftSession.no_proxy``): a request to a host on that list (same syntax
as requests: host names and their subdomains, ``host:port``, IP addresses, CIDR ranges, ``*``)
goes direct, any other through the proxy. Requests would never consult the list on its own
with ``trust_env=False``.
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies

# Bounds in seconds of a Retry-After we honour: at least 1 s, at most an hour (MSAL caps its
# own token-endpoint throttling at 3,600 s too, contract §10.4).
MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 3600.0


def ca_bundle() -> str | bool:
    """The ``verify`` value: the configured CA bundle path, or True for the system bundle."""
    return settings.REQUESTS_CA_BUNDLE or True


def timeouts() -> tuple[float, float]:
    """(connect, read) timeouts in seconds for every call to Microsoft."""
    return (settings.MICROSOFT_CONNECT_TIMEOUT, settings.MICROSOFT_READ_TIMEOUT)


class MicrosoftSession(requests.Session):
    """A ``requests.Session`` that applies its own no-proxy list (``no_proxy``, NO_PROXY syntax).

    With ``trust_env=False`` requests uses ``session.proxies`` for every URL and never reads
    NO_PROXY. ``request`` therefore passes ``proxies={scheme: None, ...}`` for a URL on the
    list: requests' ``merge_setting`` deletes the keys a request sets to None from the merged
    session proxies, so the adapter finds no proxy and connects direct. A redirect is decided
    again for its new URL (``rebuild_proxies``). Pass ``proxies`` by keyword to override.
    """

    def __init__(self, *, no_proxy: str = "") -> None:
        super().__init__()
        self.no_proxy = no_proxy

    def bypasses_proxy(self, url: str) -> bool:
        """True when ``url``'s host is on the no-proxy list (and a proxy is configured)."""
        if not self.proxies or not self.no_proxy:
            return False
        return bool(should_bypass_proxies(url, no_proxy=self.no_proxy))

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxies a request to ``url`` uses: ``{}`` for a no-proxy host, else a copy of
        ``session.proxies``."""
        return {} if self.bypasses_proxy(url) else dict(self.proxies)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        """``requests.Session.request``, sent direct when the URL is on the no-proxy list."""
        url = args[1] if len(args) > 1 else kwargs.get("url", "")
        if kwargs.get("proxies") is None and self.bypasses_proxy(_text(url)):
            kwargs["proxies"] = {key: None for key in self.proxies}
        return super().request(*args, **kwargs)

    def rebuild_proxies(
        self, prepared_request: requests.PreparedRequest, proxies: Any
    ) -> dict[str, str]:
        """On a redirect, decide direct or proxied again for the new URL."""
        return super().rebuild_proxies(
            prepared_request, self.proxies_for(_text(prepared_request.url or ""))
        )


def _text(url: str | bytes) -> str:
    return url.decode("utf-8", "replace") if isinstance(url, bytes) else str(url)


def build_session(*, pool_maxsize: int = 10) -> MicrosoftSession:
    """A new session: explicit CA bundle, environment ignored except proxies, no auto-retries.

    ``HTTP_PROXY``/``HTTPS_PROXY`` (read once, here) become ``session.proxies``; ``NO_PROXY``
    becomes ``session.no_proxy`` and is applied per request (see ``MicrosoftSession``).
    Retries are the caller's decision (the Defender client retries transient errors with
    backoff; MSAL keeps its own single retry on connection errors).
    """
    proxies = urllib.request.getproxies()
    session = MicrosoftSession(no_proxy=proxies.get("no", ""))
    session.trust_env = False
    session.verify = ca_bundle()
    session.proxies = {k: v for k, v in proxies.items() if k in ("http", "https")}
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# A run of this many digits may be an integer beyond 64 bits, which orjson would read as a float.
_LONG_DIGIT_RUN = b"0" * 19
# Every digit byte to "0", every other byte to " ": finds digit runs at C speed.
_DIGITS_AS_ZERO = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
# A JSON "\u0000" escape, not preceded by an odd number of backslashes (that would be the
# text "\u0000" instead).
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def decode_json(content: bytes) -> tuple[Any, int]:
    """Decode a JSON response body exactly; returns ``(value, replaced)``.

    Strict JSON (RFC 8259): ``NaN``/``Infinity``, numbers out of the double range and invalid
    UTF-8 raise ValueError (PostgreSQL could not store them anyway). Integers keep every digit.
    orjson does the work (about twice as fast as the standard library, which matters for 100
    incidents a page); a body with a run of 19 or more digits anywhere goes through the
    standard library instead, because orjson reads integers beyond 64 bits as floats.

    ``\u0000`` escapes are replaced by ``\ufffd`` (the Unicode replacement character) before
    decoding, and ``replaced`` counts them: PostgreSQL can store U+0000 neither in text nor in
    jsonb, and refusing the page would stop the tenant's sync for good at that page.
    """
    replaced = 0
    if b"\\u0000" in content:
        content, replaced = _NUL_ESCAPE.subn(rb"\1\\ufffd", content)
    if _LONG_DIGIT_RUN in content.translate(_DIGITS_AS_ZERO):
        value = json.loads(content, parse_constant=_reject_constant, parse_float=_finite_float)
    else:
        value = orjson.loads(content)
    return value, replaced


def http_date(value: str | None) -> datetime | None:
    """An HTTP-date header value (RFC 9110 §5.6.7, e.g. ``Date``) as an aware UTC datetime.

    None when absent or unreadable. A date without a usable zone (``-0000``, which
    ``parsedate_to_datetime`` returns naive) is taken as UTC, as RFC 9110 requires of HTTP-dates.
    """
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(value: str | None, *, default: float, now: datetime | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 §10.2.3), within
    [MIN_RETRY_AFTER, MAX_RETRY_AFTER].

    Accepts delay-seconds (integers; decimals are tolerated) and the HTTP-date form, counted
    from ``now`` (pass the response's ``Date`` so the two clocks agree; default: this host's
    clock). ``default`` (seconds, also clamped) is used when the header is absent or unreadable,
    including ``inf``, ``nan`` and other non-finite numbers. Never raises.
    """
    seconds = default
    text = (value or "").strip()
    if text:
        try:
            number = float(text)
        except ValueError:
            date = http_date(text)
            if date is not None:
                seconds = (date - (now or datetime.now(UTC))).total_seconds()
        else:
            if math.isfinite(number):
                seconds = number
    if not math.isfinite(seconds):
        seconds = MAX_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, seconds))

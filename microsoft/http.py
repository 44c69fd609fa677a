"""The requests session used for every call to Microsoft, and the decoding of its JSON bodies.

Contract §10.5: when ``REQUESTS_CA_BUNDLE`` is set, requests lets the environment override
``session.verify``. We read the variable once into ``settings.REQUESTS_CA_BUNDLE`` and build
sessions with ``trust_env=False`` and ``verify`` set explicitly, so the configured bundle is
used for MSAL and the Defender API alike, whatever the process environment says. Proxies from
``HTTPS_PROXY``/``NO_PROXY`` are still honoured (copied explicitly).
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from typing import Any

import orjson
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter


def ca_bundle() -> str | bool:
    """The ``verify`` value: the configured CA bundle path, or True for the system bundle."""
    return settings.REQUESTS_CA_BUNDLE or True


def timeouts() -> tuple[float, float]:
    """(connect, read) timeouts in seconds for every call to Microsoft."""
    return (settings.MICROSOFT_CONNECT_TIMEOUT, settings.MICROSOFT_READ_TIMEOUT)


def build_session(*, pool_maxsize: int = 10) -> requests.Session:
    """A new session: explicit CA bundle, environment ignored except proxies, no auto-retries.

    Retries are the caller's decision (the Defender client retries transient errors with
    backoff; MSAL keeps its own single retry on connection errors).
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_bundle()
    proxies = urllib.request.getproxies()
    session.proxies = {k: v for k, v in proxies.items() if k in ("http", "https", "no")}
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

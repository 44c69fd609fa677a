"""The requests session used for every call to Microsoft.

Contract §10.5: when ``REQUESTS_CA_BUNDLE`` is set, requests lets the environment override
``session.verify``. We read the variable once into ``settings.REQUESTS_CA_BUNDLE`` and build
sessions with ``trust_env=False`` and ``verify`` set explicitly, so the configured bundle is
used for MSAL and the Defender API alike, whatever the process environment says. Proxies from
``HTTPS_PROXY``/``NO_PROXY`` are still honoured (copied explicitly).
"""

from __future__ import annotations

import urllib.request

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

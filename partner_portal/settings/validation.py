"""Validation of environment values at start-up.

Each helper raises ``django.core.exceptions.ImproperlyConfigured`` with one line naming the
variable, which ``partner_portal.startup`` turns into a one-line error and a non-zero exit.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def require_url(name: str, value: str) -> str:
    """Return ``value`` if it is an absolute http(s) URL, else raise ImproperlyConfigured."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an absolute http(s) URL, got {value!r}")
    return value


def require_https_url(name: str, value: str) -> str:
    """Return ``value`` if it is an absolute https URL (MSAL refuses http authorities)."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an absolute https:// URL, got {value!r}")
    return value


def require_guid_or_empty(name: str, value: str) -> str:
    """Return ``value`` lowercased if it is a GUID (or empty), else raise ImproperlyConfigured."""
    if not value:
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a GUID, got {value!r}") from None


def require_nonempty(name: str, value: str) -> str:
    """Return ``value`` if non-empty, else raise ImproperlyConfigured naming the variable."""
    if not value:
        raise ImproperlyConfigured(f"{name} is required in production; set it in the environment")
    return value

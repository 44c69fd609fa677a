"""Start-up guard shared by manage.py, WSGI/ASGI and Celery.

A missing or malformed setting must stop start-up with one clear line naming the variable,
not a traceback and not a half-configured process.
"""

from __future__ import annotations

import os
import sys

from django.core.exceptions import ImproperlyConfigured

DEFAULT_SETTINGS = "partner_portal.settings.development"


def load_settings_or_exit() -> None:
    """Import the configured settings module; on ImproperlyConfigured print one line, exit 2."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces the settings module to load
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"Configuration error: {exc}\n")
        raise SystemExit(2) from None

"""Settings for pytest. DATABASE_URL / REDIS_URL from the environment select real services."""

import os
from urllib.parse import urlsplit, urlunsplit

from partner_portal.settings.base import *  # noqa: F403
from partner_portal.settings.base import CACHES, DATABASES, REDIS_URL, VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests run tasks eagerly unless they start a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if REDIS_URL:
    # Keep test keys apart from a developer's running portal.
    CACHES["default"]["KEY_PREFIX"] = "portal-test"
    _xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", .. under -n N
    if _xdist_worker:
        # Each test empties the cache (a Redis FLUSHDB), so parallel workers get a database
        # each: 1 + the worker's number, after the one REDIS_URL names.
        _url = urlsplit(REDIS_URL)
        _db = int(_url.path.strip("/") or 0) + 1 + int(_xdist_worker.removeprefix("gw"))
        CACHES["default"]["LOCATION"] = urlunsplit(_url._replace(path=f"/{_db % 16}"))
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared in-memory connection: browser tests read through the live
    # server's threads while the test thread writes, and one sqlite3 connection shared across
    # threads can deadlock. pytest-xdist adds a per-worker suffix to the name.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}

"""Settings for pytest. DATABASE_URL / REDIS_URL from the environment select real services."""

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
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared in-memory connection: browser tests read through the live
    # server's threads while the test thread writes, and one sqlite3 connection shared across
    # threads can deadlock. pytest-xdist adds a per-worker suffix to the name.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}

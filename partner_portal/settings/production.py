"""Production settings: every secret required, HTTPS everywhere; ``check --deploy`` passes.

A missing or malformed required variable raises ImproperlyConfigured naming it; the entry
points (manage.py, wsgi, celery) print that one line and exit non-zero.
"""

from django.core.exceptions import ImproperlyConfigured

from partner_portal.settings.base import *  # noqa: F403
from partner_portal.settings.base import (
    AZURE_CLIENT_CERTIFICATE_PATH,
    AZURE_CLIENT_ID,
    AZURE_CLIENT_SECRET,
    PORTAL_URL,
    env,
)
from partner_portal.settings.validation import require_nonempty

DEBUG = False
# Required: 50+ random characters, e.g. from secrets.token_urlsafe(64).
SECRET_KEY = require_nonempty("SECRET_KEY", env.str("SECRET_KEY", default=""))
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("insecure-"):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required in production; set it in the environment")
require_nonempty("DATABASE_URL", env.str("DATABASE_URL", default=""))
require_nonempty("REDIS_URL", env.str("REDIS_URL", default=""))
require_nonempty("AZURE_CLIENT_ID", AZURE_CLIENT_ID)
if not (AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH):
    raise ImproperlyConfigured(
        "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH is required in production"
    )
if not PORTAL_URL.startswith("https://") and not env.bool("PORTAL_ALLOW_HTTP", default=False):
    raise ImproperlyConfigured("PORTAL_URL must be an https:// URL in production")

# HTTPS hardening. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER_ENABLED=true.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Seconds browsers remember to use HTTPS only (one year).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

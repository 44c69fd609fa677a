"""Settings shared by every deployment mode, read from the environment (12-factor).

Every value that differs between deployments comes from an environment variable read with
django-environ; ``.env.example`` lists each one. A ``.env`` file in the project root is read
when present (never committed). Microsoft endpoints are settings here, never literals in code.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from partner_portal.settings.validation import (
    require_guid_or_empty,
    require_https_url,
    require_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# var/ holds the embedded SQLite database, the filesystem broker and emulator data (git-ignored).
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core Django -----------------------------------------------------------------------------
# Cryptographic signing key. Development gets a throwaway default; production requires it.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me-" + "x" * 20)
# Debug pages and verbose errors; never on in production.
DEBUG = env.bool("DEBUG", default=False)
# Host names this portal answers to (comma-separated).
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Public base URL of the portal; the admin-consent redirect URI and onboarding links are built
# from it, so it must be the URL customers' browsers reach.
PORTAL_URL = require_url("PORTAL_URL", env.str("PORTAL_URL", default="http://127.0.0.1:8000"))
PORTAL_URL = PORTAL_URL.rstrip("/")
# Origins trusted for CSRF (defaults to PORTAL_URL).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PORTAL_URL])
# Name shown in the page header and on the customer-facing consent pages.
PORTAL_NAME = env.str("PORTAL_NAME", default="Partner Portal")
# The MSSP's name, shown to customer administrators ("who is asking").
MSSP_NAME = env.str("MSSP_NAME", default="Your MSSP")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "partner_portal.apps.PortalConfig",
    "accounts",
    "tenants",
    "onboarding",
    "incidents",
    "sync",
    "dashboard",
]

MIDDLEWARE = [
    "partner_portal.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "partner_portal.urls"
WSGI_APPLICATION = "partner_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partner_portal.context_processors.portal",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
# Database URL. Default: a SQLite file under var/ (no service needed); PostgreSQL in production,
# docker compose and CI, e.g. postgres://user:pass@host:5432/partner_portal.
DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# Seconds a database connection is kept open between requests.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded database lives under var/ (git-ignored; absent in a fresh clone).
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite is shared by web, worker and beat in the demo: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, shared token cache, rate limiter and locks ------------------------
# Redis URL, e.g. redis://redis:6379/0. Empty (default): Celery uses kombu's filesystem
# transport under var/ and coordination (token cache, limiter, locks) uses the database cache,
# so the demo runs with no service installed. Set it in production: it is required there.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
            "KEY_PREFIX": "portal",
        }
    }

# --- Celery ----------------------------------------------------------------------------------
# (Sync area.) Tasks take primitive IDs and are idempotent; see sync/tasks.py.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
# Seconds: soft limit raises inside the task, hard limit kills it. The sync task stops itself
# after SYNC_RUN_MAX_SECONDS (below the soft limit) and re-queues the rest of the pass.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=1500)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=1800)
# Seconds before Redis redelivers a task a worker took but never acknowledged (worker killed).
# Must exceed the hard time limit plus the per-tenant sync lock's margin, or a running task
# could be delivered twice (the lock would stop the copy, but it would be wasted).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if not REDIS_URL:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (control) messages; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # The embedded broker's folders must exist before a worker or the web process enqueues.
    for _folder in ("out", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# Results are not used; tasks record their outcome in the database.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A killed worker's task is redelivered: ack after the task ran, reject when the worker is lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker process reserves one task at a time (no task waits behind a long sync).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Where celery beat keeps its schedule state.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Seconds between beat sweeps that enqueue due tenant syncs.
SYNC_SWEEP_SECONDS = env.int("SYNC_SWEEP_SECONDS", default=60)
CELERY_BEAT_SCHEDULE = {
    "sync-sweep": {
        "task": "sync.sweep",
        "schedule": float(SYNC_SWEEP_SECONDS),
        # A sweep older than one interval is useless: the next one supersedes it.
        "options": {"expires": float(SYNC_SWEEP_SECONDS)},
    }
}

# --- Microsoft (Entra ID application and Defender XDR API) -----------------------------------
# The MSSP's multi-tenant Entra ID application (client) ID.
AZURE_CLIENT_ID = require_guid_or_empty("AZURE_CLIENT_ID", env.str("AZURE_CLIENT_ID", default=""))
# The application's client secret value (not its secret ID). Prefer a certificate in production.
AZURE_CLIENT_SECRET = env.str("AZURE_CLIENT_SECRET", default="")
# Path to a PEM file holding the certificate credential's private key and certificate.
AZURE_CLIENT_CERTIFICATE_PATH = env.str("AZURE_CLIENT_CERTIFICATE_PATH", default="")
# Passphrase of the certificate's private key, if it is encrypted.
AZURE_CLIENT_CERTIFICATE_PASSWORD = env.str("AZURE_CLIENT_CERTIFICATE_PASSWORD", default="")
# Entra ID authority host; national clouds use theirs (e.g. https://login.microsoftonline.us).
AZURE_AUTHORITY_HOST = require_https_url(
    "AZURE_AUTHORITY_HOST",
    env.str("AZURE_AUTHORITY_HOST", default="https://login.microsoftonline.com"),
).rstrip("/")
# Defender XDR API base URL (regional hosts: api-us., api-eu., api-uk.security.microsoft.com).
DEFENDER_API_URL = require_https_url(
    "DEFENDER_API_URL", env.str("DEFENDER_API_URL", default="https://api.security.microsoft.com")
).rstrip("/")
# The resource (App ID URI) tokens are requested for; the scope is "<resource>/.default".
DEFENDER_API_RESOURCE = env.str(
    "DEFENDER_API_RESOURCE", default="https://api.security.microsoft.com"
)
# The Defender portal base URL used for "open in Defender" links.
DEFENDER_PORTAL_URL = env.str("DEFENDER_PORTAL_URL", default="https://security.microsoft.com")
# Application permissions (app roles) the portal needs in each customer tenant.
REQUIRED_APP_ROLES = env.list("REQUIRED_APP_ROLES", default=["Incident.Read.All"])
# CA bundle for outbound HTTPS (the standard requests variable). Empty: the system bundle.
# Point it at var/emulator/ca.pem to trust the local emulator.
REQUESTS_CA_BUNDLE = env.str("REQUESTS_CA_BUNDLE", default="")
# Seconds: connect and read timeouts of every call to Microsoft.
MICROSOFT_CONNECT_TIMEOUT = env.float("MICROSOFT_CONNECT_TIMEOUT", default=5.0)
MICROSOFT_READ_TIMEOUT = env.float("MICROSOFT_READ_TIMEOUT", default=30.0)

# --- Onboarding ------------------------------------------------------------------------------
# Days an onboarding link stays valid.
ONBOARDING_LINK_TTL = timedelta(days=env.int("ONBOARDING_LINK_TTL_DAYS", default=7))
# Minutes an OAuth state (minted when the customer administrator presses "Grant consent") lives.
CONSENT_STATE_TTL = timedelta(minutes=env.int("CONSENT_STATE_TTL_MINUTES", default=10))
# Seconds after a consent callback whose confirmation failed for a reason that may pass (consent
# not visible yet, Microsoft unreachable or throttling) at which the portal checks again by
# itself, one attempt per value (onboarding.rechecks). Empty: no automatic re-checks.
ONBOARDING_RECHECK_DELAYS = env.list("ONBOARDING_RECHECK_DELAYS", cast=int, default=[60, 300, 900])
# The Entra ID application's display name, shown to customer administrators on the onboarding
# page so they recognise it on Microsoft's consent page. Empty: PORTAL_NAME.
ONBOARDING_APP_NAME = env.str("ONBOARDING_APP_NAME", default="")

# --- Sync ------------------------------------------------------------------------------------
# (SYNC_SWEEP_SECONDS is in the Celery section, next to the beat schedule that uses it.)
# Seconds a tenant waits between two syncs.
SYNC_INTERVAL_SECONDS = env.int("SYNC_INTERVAL_SECONDS", default=60)
# Days of incidents (by last update) the first sync of a tenant backfills.
SYNC_BACKFILL_DAYS = env.int("SYNC_BACKFILL_DAYS", default=30)
# Seconds subtracted from the watermark on each sync so late writes are not missed.
SYNC_OVERLAP_SECONDS = env.int("SYNC_OVERLAP_SECONDS", default=120)
# Unknown values of closed enums (severity, status, classification, determination): False
# rejects the page (it is stored once the portal knows the value); True stores them as sent,
# with a warning, for when Microsoft adds a value before the portal does (contract §5.7).
SYNC_ACCEPT_UNKNOWN_ENUMS = env.bool("SYNC_ACCEPT_UNKNOWN_ENUMS", default=False)
# Seconds one sync task works before it stores its place and re-queues the rest (a long
# backfill is split into several tasks); must stay below CELERY_TASK_SOFT_TIME_LIMIT.
SYNC_RUN_MAX_SECONDS = env.int("SYNC_RUN_MAX_SECONDS", default=600)
# Seconds the per-tenant sync lock outlives the task's hard time limit if its holder dies
# without releasing it. The lock's TTL (hard limit + this) must stay below the visibility
# timeout, so a live sync is never overtaken and a redelivered task finds the lock gone.
SYNC_LOCK_MARGIN_SECONDS = env.int("SYNC_LOCK_MARGIN_SECONDS", default=60)
SYNC_LOCK_TTL = CELERY_TASK_TIME_LIMIT + SYNC_LOCK_MARGIN_SECONDS
if not SYNC_RUN_MAX_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "Need SYNC_RUN_MAX_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT"
    )
if REDIS_URL and CELERY_VISIBILITY_TIMEOUT <= SYNC_LOCK_TTL:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT + SYNC_LOCK_MARGIN_SECONDS"
    )
# Calls per tenant a minute / an hour the limiter allows (Microsoft: 50 and 1,500).
DEFENDER_CALLS_PER_MINUTE = env.int("DEFENDER_CALLS_PER_MINUTE", default=40)
DEFENDER_CALLS_PER_HOUR = env.int("DEFENDER_CALLS_PER_HOUR", default=1200)
# Seconds a call may wait for the limiter inside a task; a longer wait (an exhausted hour
# quota, a long Retry-After) re-queues the task with that countdown instead.
DEFENDER_LIMITER_MAX_WAIT = env.float("DEFENDER_LIMITER_MAX_WAIT", default=65.0)

# --- Dashboard -------------------------------------------------------------------------------
# Incidents per page of the incident list (keyset pagination).
DASHBOARD_PAGE_SIZE = env.int("DASHBOARD_PAGE_SIZE", default=50)
# Seconds between automatic refreshes of the incident list and its summary (htmx polling).
DASHBOARD_REFRESH_SECONDS = env.int("DASHBOARD_REFRESH_SECONDS", default=30)
# Most rows one CSV export returns (the export says so in its last line when it is cut).
DASHBOARD_EXPORT_MAX_ROWS = env.int("DASHBOARD_EXPORT_MAX_ROWS", default=100_000)
# Minutes after the last successful sync at which a connected customer's data counts as stale.
DASHBOARD_STALE_AFTER_MINUTES = env.int("DASHBOARD_STALE_AFTER_MINUTES", default=15)
# Days the "incidents created per day" chart covers when no date range is selected.
DASHBOARD_CHART_DAYS = env.int("DASHBOARD_CHART_DAYS", default=14)

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:incidents"
LOGOUT_REDIRECT_URL = "login"
# Outgoing mail (password reset). Default prints mail to the console.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Sender address of password-reset mail.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# --- Internationalisation, static files ------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Logging ---------------------------------------------------------------------------------
# Log level of the portal's own loggers.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "partner_portal.logging.RedactSecretsFilter"}},
    "formatters": {"kv": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "kv", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"level": LOG_LEVEL, "handlers": ["console"], "propagate": False}
        for name in ("partner_portal", "tenants", "onboarding", "incidents", "sync", "microsoft")
    },
}

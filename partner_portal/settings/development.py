"""Development and demo settings: DEBUG on, embedded defaults (SQLite, filesystem broker)."""

from partner_portal.settings.base import *  # noqa: F403
from partner_portal.settings.base import env

DEBUG = env.bool("DEBUG", default=True)

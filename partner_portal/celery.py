"""The Celery application: configuration from Django settings (``CELERY_*``), tasks autodiscovered.

Worker: ``celery -A partner_portal.celery worker``; beat: ``celery -A partner_portal.celery beat``.
A configuration error stops the worker with one line naming the variable.
"""

from __future__ import annotations

from celery import Celery

from partner_portal.startup import load_settings_or_exit

load_settings_or_exit()

app = Celery("partner_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

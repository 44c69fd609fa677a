"""Partner Portal Django project: settings, URLs, entry points and the Celery app."""

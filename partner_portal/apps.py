"""The project's own app config: binds @shared_task to the portal's Celery app at start-up."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """Loads the Celery app once settings are ready, so tasks enqueue on the configured broker."""

    name = "partner_portal"
    verbose_name = "Partner Portal"

    def ready(self) -> None:
        from partner_portal.celery import app  # noqa: F401

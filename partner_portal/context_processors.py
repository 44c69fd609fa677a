"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, str]:
    """Return ``{"PORTAL_NAME": str}`` for the page header and titles."""
    return {"PORTAL_NAME": settings.PORTAL_NAME}

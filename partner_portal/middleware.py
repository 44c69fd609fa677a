"""Middleware of the project itself."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from partner_portal.views import healthz


class HealthCheckMiddleware:
    """Answers ``GET /healthz`` before host validation and the HTTPS redirect.

    Container health checks call the process on 127.0.0.1 over plain HTTP, which
    ``ALLOWED_HOSTS`` and ``SECURE_SSL_REDIRECT`` would otherwise refuse. The response only says
    whether the database answers; it reveals nothing else.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return healthz(request)
        return self.get_response(request)

"""Onboarding pages. Public (no portal account, ``public_base.html``): the onboarding link
page, its consent button (POST + CSRF, mints the OAuth state, 302 to Microsoft) and the consent
callback. Signed-in: the settings page. Views validate input and delegate to services.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from onboarding import explain, links
from onboarding.callback import handle_callback
from onboarding.selectors import app_settings
from onboarding.services import begin_consent


def _invalid_link(request: HttpRequest, exc: links.LinkInvalid) -> HttpResponse:
    links.reject_link(reason=exc.reason, link=exc.link)
    return render(
        request,
        "onboarding/link_invalid.html",
        {"reason": exc.reason, "mssp_name": settings.MSSP_NAME},
        status=404 if exc.reason == "unknown" else 410,
    )


@never_cache
@require_GET
def start(request: HttpRequest, token: str) -> HttpResponse:
    """The onboarding link: who is asking, which application, which permissions and why."""
    try:
        link = links.resolve_link(token)
    except links.LinkInvalid as exc:
        return _invalid_link(request, exc)
    links.mark_opened(link)
    return render(
        request,
        "onboarding/start.html",
        {
            "customer": link.customer,
            "token": token,
            "mssp_name": settings.MSSP_NAME,
            "app_name": settings.ONBOARDING_APP_NAME or settings.PORTAL_NAME,
            "client_id": settings.AZURE_CLIENT_ID,
            "permissions": explain.required_permissions(),
            "expires_at": link.expires_at,
        },
    )


@never_cache
@require_POST
def consent(request: HttpRequest, token: str) -> HttpResponse:
    """The consent button: mint a session-bound state and send the browser to Microsoft."""
    try:
        link = links.resolve_link(token)
    except links.LinkInvalid as exc:
        return _invalid_link(request, exc)
    return HttpResponseRedirect(begin_consent(link=link, session=request.session))


@never_cache
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """The registered redirect URI: Microsoft sends the customer administrator back here."""
    result = handle_callback(params=request.GET, session=request.session)
    return render(
        request,
        "onboarding/callback.html",
        {"result": result, "mssp_name": settings.MSSP_NAME},
        status=result.http_status,
    )


@login_required
@permission_required("tenants.manage_onboarding", raise_exception=True)
def settings_page(request: HttpRequest) -> HttpResponse:
    """What to register in Entra ID (redirect URI, permissions) and what the portal uses."""
    return render(request, "onboarding/settings.html", {"nav": "settings", **app_settings()})

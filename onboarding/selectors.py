"""Onboarding reads for the tenant page and the settings page."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from microsoft import entra
from onboarding import explain, links
from onboarding.models import OnboardingLink, PendingTenant
from onboarding.services import redirect_uri
from tenants.models import Customer


@dataclass(frozen=True)
class OnboardingPanel:
    """The onboarding facts of one customer: its active link (and URL), the newest link
    whatever its status, and the unconfirmed tenant ID, if any."""

    link: OnboardingLink | None
    link_url: str
    latest_link: OnboardingLink | None
    pending: PendingTenant | None


def onboarding_panel(*, customer: Customer) -> OnboardingPanel:
    """Onboarding facts for the tenant page (two queries)."""
    latest = customer.onboarding_links.order_by("-created_at", "-id").first()
    link = latest if latest is not None and latest.is_active else None
    pending = PendingTenant.objects.filter(customer=customer).first()
    return OnboardingPanel(
        link=link,
        link_url=links.link_url(link) if link else "",
        latest_link=latest,
        pending=pending,
    )


def app_settings() -> dict[str, object]:
    """What an MSSP administrator registers in Entra ID and what the portal uses."""
    return {
        "redirect_uri": redirect_uri(),
        "client_id": settings.AZURE_CLIENT_ID,
        "authority_host": settings.AZURE_AUTHORITY_HOST,
        "api_url": settings.DEFENDER_API_URL,
        "resource": settings.DEFENDER_API_RESOURCE,
        "scope": entra.defender_scope(),
        "permissions": explain.required_permissions(),
        "legacy_consent_url": entra.legacy_consent_url(),
        "credential": "certificate"
        if settings.AZURE_CLIENT_CERTIFICATE_PATH
        else ("client secret" if settings.AZURE_CLIENT_SECRET else "none configured"),
        "link_ttl_days": settings.ONBOARDING_LINK_TTL.days,
        "state_ttl_minutes": int(settings.CONSENT_STATE_TTL.total_seconds() // 60),
        "mssp_name": settings.MSSP_NAME,
    }

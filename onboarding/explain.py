"""Plain words for customer administrators and MSSP administrators: what each application
permission is for, and what to do after each kind of failure (contract §2, §3.4, §11.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from microsoft import errors

# Why the portal asks for each application permission (app role), shown on the consent page.
PERMISSION_REASONS: dict[str, str] = {
    "Incident.Read.All": (
        "Read your Microsoft Defender XDR incidents and the alerts, devices and evidence in them, "
        "so {mssp}'s analysts can see and triage them alongside their other customers'."
    ),
    "Incident.ReadWrite.All": (
        "Read incidents and update their status, classification, assignment and comments, so "
        "{mssp}'s analysts can record their triage in Microsoft Defender."
    ),
    "AdvancedHunting.Read.All": (
        "Run read-only advanced hunting queries, so {mssp}'s analysts can investigate incidents."
    ),
    "Alert.Read.All": "Read Microsoft Defender for Endpoint alerts.",
}

_AADSTS = re.compile(r"AADSTS(\d{4,8})")


@dataclass(frozen=True)
class Permission:
    """One application permission the portal needs: its name and why."""

    name: str
    reason: str


def required_permissions() -> list[Permission]:
    """settings.REQUIRED_APP_ROLES with the reason for each (unknown roles get a generic one)."""
    return [
        Permission(
            name=role,
            reason=PERMISSION_REASONS.get(
                role, "Needed by {mssp}'s portal to read your security data."
            ).format(mssp=settings.MSSP_NAME),
        )
        for role in settings.REQUIRED_APP_ROLES
    ]


def aadsts_code(text: str) -> str:
    """The first "AADSTS<n>" in ``text`` (e.g. an error_description), or ""."""
    match = _AADSTS.search(text or "")
    return f"AADSTS{match.group(1)}" if match else ""


def declined_message(error: str, description: str) -> str:
    """Plain words for an admin-consent redirect carrying ``error`` (contract §2.1–§2.3)."""
    mssp = settings.MSSP_NAME
    code = aadsts_code(description)
    if error == "access_denied" or code == "AADSTS65004":
        what = "The administrator declined the consent request"
    elif error == "consent_required":
        what = "Microsoft says admin consent is still required (it was not granted)"
    elif error == "permission_denied":
        what = "Consent was not granted (the signed-in account may not be an administrator)"
    else:
        what = f"Microsoft returned the error {error!r} instead of granting consent"
    return (
        f"{what}. Nothing was connected. To connect your tenant to {mssp}, open the onboarding "
        "link again and sign in as a Global Administrator (or Privileged Role Administrator), "
        "then choose Accept."
    )


def customer_advice(exc: errors.MicrosoftError | None, *, code: str = "") -> str:
    """What a customer administrator should do after a failed confirmation."""
    mssp = settings.MSSP_NAME
    if isinstance(exc, errors.ConsentMissingError):
        return (
            "Microsoft does not show the consent in your tenant yet. It can take a minute to "
            f"take effect: {mssp} will check again. If it still fails, open the onboarding link "
            "again and choose Accept."
        )
    if isinstance(exc, errors.MissingRolesError):
        return (
            "Consent was recorded, but the permissions listed on the onboarding page were not "
            "granted. Open the onboarding link again and grant admin consent, or ask your "
            "administrator to grant the application permissions in Entra ID (Enterprise "
            "applications, Permissions)."
        )
    if isinstance(exc, errors.TenantNotFoundError):
        return f"Microsoft did not find your tenant. Contact {mssp}."
    if isinstance(exc, (errors.AppCredentialsError, errors.TokenClaimsError)):
        return (
            f"The problem is in {mssp}'s application settings, not in your tenant. {mssp} has "
            "been told and will contact you; you do not need to do anything now."
        )
    if isinstance(exc, (errors.TransientError, errors.ThrottledError)):
        return f"Microsoft could not be reached just now. {mssp} will check again shortly."
    if code in ("tenant_in_use", "tenant_mismatch"):
        return (
            f"This Microsoft tenant cannot be connected to this onboarding link. Contact {mssp} "
            "and tell them your tenant ID."
        )
    if code == "offboarded":
        return f"Nothing was connected. Contact {mssp} if you expected this link to work."
    return f"Contact {mssp} and tell them the error code shown."


def admin_advice(exc: errors.MicrosoftError | None) -> str:
    """What an MSSP administrator should do after a failed confirmation (tenant page)."""
    if isinstance(exc, errors.ConsentMissingError):
        return (
            "Admin consent is missing in the customer tenant (never given, or the enterprise "
            "application was deleted). Send the customer a new onboarding link."
        )
    if isinstance(exc, errors.MissingRolesError):
        return (
            "The consent does not include every required application permission. Send a new "
            "onboarding link so a Global Administrator grants consent again."
        )
    if isinstance(exc, errors.TenantNotFoundError):
        return "Check the tenant ID or domain: Entra ID does not know it."
    if isinstance(exc, errors.AppCredentialsError):
        return (
            "Fix the portal's application settings (AZURE_CLIENT_ID, the client secret or "
            "certificate), then re-check."
        )
    if isinstance(exc, (errors.TransientError, errors.ThrottledError)):
        return "Microsoft could not be reached; re-check in a few minutes."
    return "Re-check; if the error persists, look at the audit trail below."


def state_advice(state: str, code: str = "") -> str:
    """What an MSSP administrator should do for a customer in consent ``state`` (tenant page);
    ``code`` is the customer's last error code. Empty when nothing is needed."""
    if state == "pending":
        return (
            "Send the onboarding link to the customer's Global Administrator, or, if they used "
            "Microsoft's v1 link, enter their tenant ID or domain below."
        )
    if state == "missing_permissions":
        return admin_advice(errors.MissingRolesError("", missing=[]))
    if state == "consent_revoked":
        return admin_advice(errors.ConsentMissingError("", aadsts=7000229))
    if state == "error":
        if code in ("AADSTS700016", "AADSTS7000215", "AADSTS7000222", "AADSTS700027"):
            return admin_advice(errors.AppCredentialsError("", aadsts=None))
        if code == "AADSTS90002":
            return admin_advice(errors.TenantNotFoundError("", aadsts=90002))
        return admin_advice(None)
    if state == "offboarded":
        return "Offboarded: not synced. Send a new onboarding link to connect it again."
    return ""

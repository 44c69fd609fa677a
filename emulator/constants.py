"""Fixed identifiers and vocabularies from the Microsoft contract.

Everything here is a constant taken from `shared/microsoft-contract.md` (sections cited inline);
nothing in this module has state.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Real hosts (§1). Used in payloads that Microsoft fills with its own host names.
LOGIN_HOST = "https://login.microsoftonline.com"
XDR_RESOURCE = "https://api.security.microsoft.com"
XDR_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
MDE_RESOURCE = "https://api.securitycenter.microsoft.com"
MDE_RESOURCE_ALT = "https://securitycenter.onmicrosoft.com/windowsatpservice"
MDE_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"

#: `@odata.context` values (§5.2).
INCIDENTS_CONTEXT = XDR_RESOURCE + "/api/$metadata#Incidents"
INCIDENT_ENTITY_CONTEXT = XDR_RESOURCE + "/api/$metadata#Incidents/$entity"

#: Keywords that are not tenants in an authority path (§2.2, §2.3, §3.1).
TENANT_KEYWORDS = ("common", "organizations", "consumers")

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

#: Allowed clock skew for access tokens and client assertions, seconds (§11.2).
CLOCK_SKEW_SECONDS = 300

#: Roles needed per Defender operation (§1, §6, §7).
READ_ROLES = ("Incident.ReadWrite.All", "Incident.Read.All")
WRITE_ROLES = ("Incident.ReadWrite.All",)
HUNTING_ROLES = ("AdvancedHunting.Read.All",)

DEFAULT_APP_NAME = "Contoso MSSP Partner Portal"
DEFAULT_APP_PERMISSIONS = ("Incident.Read.All",)
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/onboarding/callback/",
    "https://portal.azure.com",
    "http://localhost:8000/onboarding/callback/",
)

TENANT_STATES = ("consented", "not_consented", "no_roles")


@dataclass(frozen=True)
class ResourceApp:
    """A first-party resource application that can appear in a token's `aud` (§1, §4)."""

    display_name: str
    app_id: str
    identifiers: tuple[str, ...]
    roles: dict[str, str]

    def matches(self, identifier: str) -> bool:
        """True when `identifier` (App ID URI or app id, any trailing slash) names this app."""
        ident = identifier.rstrip("/").lower()
        return ident == self.app_id or ident in (i.lower() for i in self.identifiers)


RESOURCES = (
    ResourceApp(
        "Microsoft Threat Protection",
        XDR_APP_ID,
        (XDR_RESOURCE,),
        {
            "Incident.Read.All": "Read all incidents",
            "Incident.ReadWrite.All": "Read and write all incidents",
            "AdvancedHunting.Read.All": "Run advanced queries",
        },
    ),
    ResourceApp(
        "WindowsDefenderATP",
        MDE_APP_ID,
        (MDE_RESOURCE, MDE_RESOURCE_ALT),
        {
            "Alert.Read.All": "Read all alerts",
            "Alert.ReadWrite.All": "Read and write all alerts",
            "AdvancedQuery.Read.All": "Run advanced queries",
        },
    ),
)


def find_resource(identifier: str) -> ResourceApp | None:
    """The resource app named by a v1 `resource` or the prefix of a v2 `/.default` scope."""
    for res in RESOURCES:
        if res.matches(identifier):
            return res
    return None


def resource_for_role(role: str) -> ResourceApp | None:
    """The resource app that defines app role `role`, or None for an unknown role."""
    for res in RESOURCES:
        if role in res.roles:
            return res
    return None


# Defender enums (§5.3, §5.4, §6).
INCIDENT_STATUSES = ("Active", "InProgress", "Resolved", "Redirected")
SEVERITIES = ("UnSpecified", "Informational", "Low", "Medium", "High")
CLASSIFICATIONS = ("Unknown", "TruePositive", "FalsePositive", "InformationalExpectedActivity")
PATCH_CLASSIFICATIONS = ("TruePositive", "InformationalExpectedActivity", "FalsePositive")
#: Every determination PATCH accepts: update-page and resource-page spellings (§6).
PATCH_DETERMINATIONS = (
    "MultiStagedAttack",
    "MaliciousUserActivity",
    "CompromisedAccount",
    "CompromisedUser",
    "Malware",
    "Phishing",
    "UnwantedSoftware",
    "Other",
    "SecurityTesting",
    "LineOfBusinessApplication",
    "ConfirmedActivity",
    "ConfirmedUserActivity",
    "Clean",
    "NoEnoughDataToValidate",
    "InsufficientData",
)
#: Determinations the generator uses per classification (resource-page spellings, §5.3).
DETERMINATIONS_BY_CLASSIFICATION = {
    "TruePositive": (
        "MultiStagedAttack",
        "MaliciousUserActivity",
        "CompromisedUser",
        "Malware",
        "Phishing",
        "UnwantedSoftware",
        "Other",
    ),
    "InformationalExpectedActivity": (
        "SecurityTesting",
        "LineOfBusinessApplication",
        "ConfirmedUserActivity",
        "Other",
    ),
    "FalsePositive": ("Clean", "InsufficientData", "Other"),
}

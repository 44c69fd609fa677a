"""Forms of the onboarding pages."""

from __future__ import annotations

import uuid

from django import forms

from tenants.forms import DOMAIN_RE


class ManualTenantForm(forms.Form):
    """The v1 path (contract §2.1): the customer's tenant ID, or a verified domain that the
    portal resolves through OpenID discovery."""

    tenant_or_domain = forms.CharField(
        max_length=253,
        label="Tenant ID or verified domain",
        help_text="e.g. 6c2d8e4f-1a3b-4c5d-9e7f-0a1b2c3d4e5f or contoso.com",
    )

    def clean_tenant_or_domain(self) -> str:
        """The value trimmed and lowercased, without a trailing dot: a GUID in canonical form
        ("6c2d8e4f-1a3b-…"), or a DNS name (``tenants.forms.DOMAIN_RE``). Raises
        ValidationError for anything else (URLs, partial GUIDs, words)."""
        value = self.cleaned_data["tenant_or_domain"].strip().lower().rstrip(".")
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
        if not DOMAIN_RE.match(value):
            raise forms.ValidationError(
                "Enter a tenant ID (a GUID) or a domain name such as contoso.com."
            )
        return value

"""Forms of the customer pages: add/edit a customer, offboard it."""

from __future__ import annotations

import re

from django import forms

from tenants import services
from tenants.models import Customer

# A DNS name: labels of letters, digits and hyphens, at least one dot (e.g. contoso.com).
DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$", re.IGNORECASE
)


class CustomerForm(forms.ModelForm):
    """Display name (unique, case-insensitive), optional primary domain, contacts, notes."""

    class Meta:
        model = Customer
        fields = ["name", "primary_domain", "contacts", "notes"]
        labels = {"name": "Display name", "primary_domain": "Primary domain (optional)"}
        help_texts = {"primary_domain": "The customer's verified domain, e.g. contoso.com."}
        widgets = {
            "contacts": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_name(self) -> str:
        """The display name normalised and checked by the service's naming rule
        (``tenants.services.clean_customer_name``: whitespace collapsed, unique ignoring case,
        this customer excluded when editing). Raises ValidationError shown on the field."""
        return services.clean_customer_name(self.cleaned_data["name"], exclude_pk=self.instance.pk)

    def clean_primary_domain(self) -> str:
        """The domain lowercased, without a trailing dot; empty is allowed. Raises
        ValidationError unless it is a DNS name with at least one dot (``DOMAIN_RE``)."""
        domain = self.cleaned_data["primary_domain"].strip().lower().rstrip(".")
        if domain and not DOMAIN_RE.match(domain):
            raise forms.ValidationError("Enter a domain name such as contoso.com.")
        return domain


class OffboardForm(forms.Form):
    """Keep or delete the customer's data, with an explicit confirmation.

    Fields: ``keep_or_delete`` (KEEP or DELETE, default KEEP) and ``confirm`` (a checkbox that
    must be ticked). Read the choice through ``delete_data`` after ``is_valid()``.
    """

    # Values of ``keep_or_delete``.
    KEEP = "keep"
    DELETE = "delete"

    # KEEP: data stays, read-only; DELETE: incidents, alerts and sync history deleted now.
    keep_or_delete = forms.ChoiceField(
        choices=[
            (KEEP, "Keep its incidents and sync history (read-only; syncing stops)"),
            (DELETE, "Delete its incidents, alerts and sync history now"),
        ],
        widget=forms.RadioSelect,
        initial=KEEP,
        label="Data",
    )
    # Must be ticked: the administrator acknowledges that syncing stops.
    confirm = forms.BooleanField(
        required=True,
        label="I understand that syncing stops and the customer must consent again to reconnect.",
    )

    @property
    def delete_data(self) -> bool:
        """True when the administrator chose to delete the data (only after ``is_valid()``)."""
        return self.cleaned_data.get("keep_or_delete") == self.DELETE

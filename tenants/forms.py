"""Forms of the customer pages: add/edit a customer, offboard it."""

from __future__ import annotations

import re

from django import forms

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
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Enter a display name.")
        taken = Customer.objects.filter(name__iexact=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A customer with this name already exists.")
        return name

    def clean_primary_domain(self) -> str:
        domain = self.cleaned_data["primary_domain"].strip().lower().rstrip(".")
        if domain and not DOMAIN_RE.match(domain):
            raise forms.ValidationError("Enter a domain name such as contoso.com.")
        return domain


class OffboardForm(forms.Form):
    """Keep or delete the customer's data, with an explicit confirmation."""

    KEEP = "keep"
    DELETE = "delete"

    keep_or_delete = forms.ChoiceField(
        choices=[
            (KEEP, "Keep its incidents and sync history (read-only; syncing stops)"),
            (DELETE, "Delete its incidents, alerts and sync history now"),
        ],
        widget=forms.RadioSelect,
        initial=KEEP,
        label="Data",
    )
    confirm = forms.BooleanField(
        required=True,
        label="I understand that syncing stops and the customer must consent again to reconnect.",
    )

    @property
    def delete_data(self) -> bool:
        return self.cleaned_data.get("keep_or_delete") == self.DELETE

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Customers and their Microsoft 365 tenants."""

    name = "tenants"

"""Django app configuration of the dashboard."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The analysts' dashboard: incident list, summary, chart, detail, export and tenant
    overview (no models of its own)."""

    name = "dashboard"

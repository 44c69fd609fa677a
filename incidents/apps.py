from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """The local copy of each tenant's Defender incidents."""

    name = "incidents"

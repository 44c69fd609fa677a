from django.apps import AppConfig


class SyncConfig(AppConfig):
    """Per-tenant sync state, history and the tasks that run it."""

    name = "sync"

"""Incident sync: Celery tasks and services that pull each tenant's Defender incidents."""

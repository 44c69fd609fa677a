"""WSGI entry point for gunicorn: ``gunicorn partner_portal.wsgi``."""

from django.core.wsgi import get_wsgi_application

from partner_portal.startup import load_settings_or_exit

load_settings_or_exit()
application = get_wsgi_application()

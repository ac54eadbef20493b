"""The WSGI application: `gunicorn config.wsgi` serves plain HTTP (split mode)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

"""The WSGI application: `gunicorn snippets.wsgi` serves plain HTTP (split mode)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snippets.settings")

application = get_wsgi_application()

"""WSGI entry point: REST and pages served by a threaded WSGI server (gunicorn gthread,
`livecommerce/gunicorn.conf.py`); WebSockets stay on the ASGI app (docs/operations.md,
"Serving HTTP")."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
application = get_wsgi_application()

"""gunicorn settings for the `web` process: `gunicorn -c python:wsserver.gunicorn_conf`.

Not named gunicorn.conf.py on purpose: gunicorn would load that for split mode's
plain `gunicorn snippets.wsgi` too.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
worker_class = "wsserver.worker.WebWorker"
# Longer than the WebSocket drain (WS_DRAIN_SECONDS), so workers close cleanly.
graceful_timeout = 30
# gunicorn 25+ opens a control socket at one path per user: two instances on one
# machine would fight over it. Nothing here uses it.
control_socket_disable = True
accesslog = None

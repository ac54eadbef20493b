"""The peer the bridge is measured against: Django Channels REST Framework (DCRF)
serving the same snippet model under uvicorn, in its own virtualenv."""

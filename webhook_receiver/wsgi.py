"""The module-level app gunicorn imports (`webhook_receiver.wsgi:app`), built from the
environment. Everything else creates apps with `create_app`."""

from webhook_receiver.app import create_app

app = create_app()

"""One blueprint per concern: webhooks, health, metrics, the OpenAPI description, the
integrations API and the OAuth callback. Each is a thin layer over the services."""

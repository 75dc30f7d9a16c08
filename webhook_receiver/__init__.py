"""The webhook receiver: verify provider deliveries, store them durably, answer fast.

Rooms inside: `verification/` (one module per signature scheme, chosen by the names in each
provider's `WebhookSpec`), `parsing/` (calls the provider's own parser from
`sources/<provider>/webhooks.py`), `blueprints/` (the Flask endpoints) and `app.py` (the
application factory). Verified events go to the durable `inbox/` the Dagster sensor reads. The
receiver never calls a provider and never names one outside `verification/`: whatever an event
asks for happens later, in a Dagster run.
"""

"""The webhook receiver: verify provider deliveries, store them durably, answer fast.

Rooms inside: `verification/` (one module per signature scheme), `parsing/` (a verified body
becomes inbox events), `inbox/` (the durable store the Dagster sensor reads), `blueprints/`
(the Flask endpoints) and `app.py` (the application factory). The receiver never calls a
provider: whatever an event asks for happens later, in a Dagster run.
"""

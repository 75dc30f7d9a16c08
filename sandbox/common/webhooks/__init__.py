"""The webhook sender every provider's sandbox reuses: an outbox that cuts events into batches,
worker threads that sign and send them, a retry schedule, a delivery log, delivery faults
(duplicate, corrupt signature, stale timestamp, delay), a flush, and the `/_sandbox/webhooks`
admin interface.

A provider brings what is its own through two small protocols (`wire.py`): a `Signer` (the
signature headers for a body, a URL, a secret and a time) and an `EventShape` (how a batch of
events becomes the request body and which fields name an event). Nothing here may name a
provider or import a provider's sandbox package.
"""

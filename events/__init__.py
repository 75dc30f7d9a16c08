"""What a stored webhook event means: routing (routes file -> action, batches, the processor)
and handlers (the built-in `extract` and `apply`, and custom ones).

This room runs in Dagster, not in the Flask receiver: the receiver only verifies and stores
events. It never names a provider; provider facts come from the provider registry.
"""

"""What every provider's sandbox reuses: the HTTP servers (in-thread and child process), JSON in
and out (`http.py`), the shared `/_sandbox/` admin routes (`admin.py`: config, reset, clock, API
faults, request log), gateway steps (`gateway.py`), the request log, time formats, fault
drawing, rolling-window rate limits, the OAuth token store (`tokens.py`), the webhook sender
(`webhooks/`) and the kit protocol.

Nothing here may name a provider or import a provider's sandbox package.
"""

"""What every provider's sandbox reuses: the HTTP servers (in-thread and child process), the
request log, time formats, fault drawing, rolling-window rate limits and the kit protocol.

Nothing here may name a provider or import a provider's sandbox package.
"""

"""HubSpot's rate-limit headers for a decision of the shared limiter (`sandbox.common.ratelimit`)."""

from __future__ import annotations

from sandbox.common.ratelimit import Decision, RateLimiter

__all__ = ["Decision", "RateLimiter", "headers_for"]


def headers_for(decision: Decision, oauth: bool) -> dict[str, str]:
    """HubSpot's X-HubSpot-RateLimit-* headers (daily ones only for private apps)."""
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": str(decision.limit),
        "X-HubSpot-RateLimit-Remaining": str(decision.remaining),
        "X-HubSpot-RateLimit-Secondly": str(max(1, decision.limit // 10)),
        "X-HubSpot-RateLimit-Secondly-Remaining": str(
            max(0, min(decision.limit // 10, decision.remaining))
        ),
    }
    if not oauth:
        headers["X-HubSpot-RateLimit-Daily"] = str(decision.daily_limit)
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(decision.daily_remaining)
    return headers

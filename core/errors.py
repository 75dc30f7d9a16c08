"""The error taxonomy shared by every room.

Each error names its provider, the integration it concerns and a hint a data engineer can act
on. Errors must never carry a secret value (tokens, passwords, client secrets) in their text.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class: something went wrong for one integration with one provider."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        integration_id: str | None = None,
        hint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.integration_id = integration_id
        self.hint = hint
        self.status_code = status_code

    def __str__(self) -> str:
        parts = [self.message]
        where = ", ".join(
            f"{k}={v}"
            for k, v in (("provider", self.provider), ("integration", self.integration_id))
            if v
        )
        if where:
            parts.append(f"[{where}]")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return " ".join(parts)


class AuthenticationError(IntegrationError):
    """Credentials are missing, invalid, revoked or could not be refreshed."""


class RateLimitError(IntegrationError):
    """The provider refused us for rate; `retry_after` seconds is the earliest sensible retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderError(IntegrationError):
    """The provider answered with an error we could not recover from (after retries)."""


class MalformedResponseError(ProviderError):
    """The provider answered 2xx with a body we cannot trust (bad JSON, missing fields)."""


class ValidationError(IntegrationError):
    """Input from a user (a declaration, a filter, a mapping) is invalid."""


class TransformationError(IntegrationError):
    """A mapping could not be applied to a record."""


class NotFoundError(IntegrationError):
    """An integration, credential or provider object does not exist."""

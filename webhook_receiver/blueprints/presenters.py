"""How integrations and registry errors look over HTTP (shared by the API and the callback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import (
    AuthenticationError,
    IntegrationError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ValidationError,
)
from pipelines.models import Integration
from pipelines.registry import SECRET_CONFIG_KEYS
from webhook_receiver.responses import Refusal
from webhook_receiver.services import services


def integration_json(integration: Integration) -> dict[str, Any]:
    svc = services()
    base = svc.settings.WEBHOOK_BASE_URL.rstrip("/")
    return {
        "id": integration.id,
        "type": integration.type,
        "name": integration.name,
        "status": integration.status,
        "organization_id": integration.organization_id,
        "user_id": integration.user_id,
        # the registry keeps secrets out of config; filtered again so none can ever leak here
        "config": {k: v for k, v in integration.config.items() if k not in SECRET_CONFIG_KEYS},
        "stored_secrets": svc.registry.vault.kinds(integration.id),
        "webhook_url": f"{base}/api/v1/webhooks/{integration.type}/{integration.id}",
        "created_at": integration.created_at.isoformat(),
        "updated_at": integration.updated_at.isoformat(),
    }


@contextmanager
def registry_errors(auth_code: str = "authentication_error") -> Iterator[None]:
    """Registry errors as HTTP refusals; their texts never hold a secret (core.errors)."""
    try:
        yield
    except NotFoundError as exc:
        raise Refusal(404, "not_found", str(exc)) from None
    except ValidationError as exc:
        raise Refusal(400, "validation_error", str(exc)) from None
    except AuthenticationError as exc:
        raise Refusal(400, auth_code, str(exc)) from None
    except RateLimitError as exc:
        raise Refusal(502, "provider_rate_limited", str(exc)) from None
    except ProviderError as exc:
        raise Refusal(502, "provider_error", str(exc)) from None
    except IntegrationError as exc:
        raise Refusal(400, "integration_error", str(exc)) from None

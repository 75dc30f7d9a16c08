"""Everything one app instance holds, attached to `app.extensions` so there are no globals."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from core.settings import Settings
from inbox import Inbox
from pipelines.registry import IntegrationRegistry
from webhook_receiver.api_keys import ApiKeyGuard
from webhook_receiver.directory import IntegrationDirectory
from webhook_receiver.metrics import ReceiverMetrics
from webhook_receiver.ratelimit import KeyedRateLimiter
from webhook_receiver.receiver import DeliveryReceiver

EXTENSION = "webhook_receiver"


@dataclass
class ReceiverServices:
    settings: Settings
    registry: IntegrationRegistry
    inbox: Inbox
    directory: IntegrationDirectory
    metrics: ReceiverMetrics
    receiver: DeliveryReceiver
    api_guard: ApiKeyGuard
    callback_limiter: KeyedRateLimiter


def services() -> ReceiverServices:
    return current_app.extensions[EXTENSION]

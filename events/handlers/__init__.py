"""Webhook handlers: the built-in `extract` and `apply` actions and the registry custom handlers
join (`@webhook_handler("name")` or the `integration_platform.webhook_handlers` entry points).

Importing this package registers the built-ins; it never runs a handler by itself.
"""

from events.handlers import apply as _apply  # noqa: F401 - registers "apply"
from events.handlers import extract as _extract  # noqa: F401 - registers "extract"
from events.handlers.context import HandlerContext, PlatformServices
from events.handlers.registry import (
    ENTRY_POINT_GROUP,
    Handler,
    HandlerRegistry,
    HandlerResult,
    default_registry,
    webhook_handler,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Handler",
    "HandlerContext",
    "HandlerRegistry",
    "HandlerResult",
    "PlatformServices",
    "default_registry",
    "webhook_handler",
]

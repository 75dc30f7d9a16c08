"""Webhook handlers by name: the built-in actions and custom handlers a routes file can name.

A handler is `fn(events, context) -> Mapping | None`: it gets one batch of stored events that
share an integration and a route, does its work, and returns optional run metadata or raises
(the batch then goes to retry, and finally to the dead letters). Custom handlers register with
the `@webhook_handler("name")` decorator or through the `integration_platform.webhook_handlers`
entry point group (`name = "package.module:function"`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from core.errors import ValidationError

if TYPE_CHECKING:
    from core.events import StoredEvent
    from events.handlers.context import HandlerContext

ENTRY_POINT_GROUP = "integration_platform.webhook_handlers"

HandlerResult = Mapping[str, Any] | None
Handler = Callable[["Sequence[StoredEvent]", "HandlerContext"], HandlerResult]

log = logging.getLogger(__name__)


class HandlerRegistry:
    """Name -> handler. Names are unique: registering a taken name is an error, not a swap."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._entry_points_loaded = False

    def register(self, name: str, handler: Handler) -> Handler:
        if not callable(handler):
            raise ValidationError(f"webhook handler {name!r} is not callable")
        with self._lock:
            existing = self._handlers.get(name)
            if existing is not None and existing is not handler:
                raise ValidationError(
                    f"a webhook handler named {name!r} is already registered "
                    f"({_qualname(existing)})",
                    hint="pick another name; built-in names are extract and apply",
                )
            self._handlers[name] = handler
        return handler

    def unregister(self, name: str) -> None:
        with self._lock:
            self._handlers.pop(name, None)

    def has(self, name: str) -> bool:
        return name in self._handlers

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def get(self, name: str) -> Handler:
        self.load_entry_points()
        try:
            return self._handlers[name]
        except KeyError:
            raise ValidationError(
                f"no webhook handler named {name!r} (registered: {', '.join(self.names())})",
                hint=f"register it with @webhook_handler or the {ENTRY_POINT_GROUP} entry points",
            ) from None

    def load_entry_points(self, *, force: bool = False) -> None:
        """Register every handler the installed distributions declare (once per process)."""
        if self._entry_points_loaded and not force:
            return
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self._handlers.get(ep.name) is not None and not force:
                continue
            try:
                handler = ep.load()
            except Exception as exc:  # noqa: BLE001 - name the broken entry point clearly
                raise ValidationError(
                    f"webhook handler entry point {ep.name} = {ep.value} cannot be loaded: {exc}",
                    hint=f"fix or uninstall the distribution declaring it in {ENTRY_POINT_GROUP}",
                ) from exc
            self.register(ep.name, handler)
        self._entry_points_loaded = True


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


default_registry = HandlerRegistry()


def webhook_handler(
    name: str, *, registry: HandlerRegistry | None = None
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the webhook handler `name` (routes say `handler:`)."""

    def decorate(fn: Handler) -> Handler:
        (registry or default_registry).register(name, fn)
        return fn

    return decorate

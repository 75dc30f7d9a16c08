"""Declarative webhook routes: (provider, event type pattern) -> what to do with the event.

Routes are plain data validated by pydantic; the first route whose provider and event pattern
match an event wins. This module only describes and matches routes: it never runs an action,
never touches the inbox and never calls a provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from events.providers import (
    ANY_PROVIDER,
    apply_rules_of,
    provider_named,
    provider_names,
    providers_with_apply,
)

Action = Literal["extract", "apply", "ignore", "handler"]

# Built-in actions that run through a handler of the same name (see events.handlers).
BUILTIN_HANDLERS = ("extract", "apply")


class ExtractOptions(BaseModel):
    """Options of `action: extract`.

    `by_id`: where the provider's entity can be read by id, read exactly the objects the events
    name instead of an incremental sync of the entity; `max_ids`: above this many ids, run the
    incremental sync.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    by_id: bool = True
    max_ids: int = Field(default=1000, ge=1, le=10_000)


class Route(BaseModel):
    """One line of the routes file.

    `provider` is a registered provider's name (or `*` for every provider); `event` holds
    shell-style patterns (`contact.*`, `order.updated`); `entity` names the warehouse entity
    the event concerns (defaults to the entity the event's object type names); `handler`
    names a custom handler and implies `action: handler`; `options` is passed to the handler.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    provider: str
    event: list[str] = Field(min_length=1)
    action: Action | None = None
    handler: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    entity: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,62}$")
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("provider")
    @classmethod
    def _registered_provider(cls, value: str) -> str:
        if value != ANY_PROVIDER and provider_named(value) is None:
            known = ", ".join(f"'{n}'" for n in [*provider_names(), ANY_PROVIDER])
            raise ValueError(f"unknown provider {value!r}; choose from {known}")
        return value

    @field_validator("event", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("event")
    @classmethod
    def _non_empty_patterns(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("event patterns must not be empty")
        return value

    @model_validator(mode="before")
    @classmethod
    def _handler_implies_action(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("handler") is not None and "action" not in data:
            return {**data, "action": "handler"}
        return data

    @model_validator(mode="after")
    def _action_is_consistent(self) -> Route:
        if self.handler is not None and self.action != "handler":
            raise ValueError(f"a route with `handler` cannot also say action: {self.action}")
        if self.action is None:
            raise ValueError("a route needs `action` (extract, apply, ignore) or `handler`")
        if self.action == "handler" and self.handler is None:
            raise ValueError("action: handler needs `handler: <name>`")
        if self.action == "ignore" and (self.entity or self.options):
            raise ValueError("an ignore route takes no entity and no options")
        if self.action == "apply":
            self._check_apply()
        if self.action == "extract":
            try:
                ExtractOptions.model_validate(self.options)
            except PydanticValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"options.{where}: {first['msg']}") from None
        self._check_entity()
        return self

    def _check_entity(self) -> None:
        """A named entity must be one of the provider's, when the provider declares any."""
        provider = provider_named(self.provider)
        if self.entity is None or provider is None or not provider.entities:
            return
        if self.entity not in provider.entities:
            raise ValueError(
                f"unknown {provider.title} entity {self.entity!r}; "
                f"choose from {sorted(provider.entities)}"
            )

    def _check_apply(self) -> None:
        """`apply` writes the warehouse directly, so only where the provider's apply rules say
        the event carries everything."""
        found = apply_rules_of(self.provider)
        if found is None:
            able = ", ".join(providers_with_apply()) or "no provider's"
            raise ValueError(f"action: apply is only available for {able} events")
        rules = found[1]
        bad = [p for p in self.event if not rules.accepts(p)]
        if bad:
            raise ValueError(
                f"action: apply only handles {', '.join(rules.event_suffixes)} events, "
                f"not {', '.join(bad)}"
            )
        if self.options:
            raise ValueError("action: apply takes no options")

    @property
    def extract_options(self) -> ExtractOptions:
        return ExtractOptions.model_validate(self.options)

    @property
    def handler_name(self) -> str | None:
        """The handler that runs this route (None for `ignore`)."""
        if self.action == "ignore":
            return None
        return self.handler if self.action == "handler" else self.action

    def matches(self, provider: str, event_type: str) -> bool:
        if self.provider not in (ANY_PROVIDER, provider):
            return False
        return any(fnmatchcase(event_type, pattern) for pattern in self.event)

    def label(self, index: int) -> str:
        """A short, stable name for tags and logs: the route's `name` or its position."""
        return self.name or f"route-{index + 1}"


class RoutesFile(BaseModel):
    """The whole routes file: a version, optional handler modules to import, the routes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    handler_modules: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)


@dataclass(frozen=True)
class RouteMatch:
    """The route an event matched, with its position (the position keeps grouping stable)."""

    index: int
    route: Route

    @property
    def label(self) -> str:
        return self.route.label(self.index)


@dataclass(frozen=True)
class RouteTable:
    """Validated routes, in file order, with where they came from (for error messages)."""

    routes: tuple[Route, ...]
    source: str
    handler_modules: tuple[str, ...] = ()

    def match(self, provider: str, event_type: str) -> RouteMatch | None:
        for index, route in enumerate(self.routes):
            if route.matches(provider, event_type):
                return RouteMatch(index, route)
        return None

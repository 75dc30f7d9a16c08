"""Read a routes file into a `RouteTable`; every error names the file, the line and the field.

The default routes ship beside this package (`events/routes.yaml`);
`WEBHOOK_ROUTES_PATH` replaces them. Loading imports the file's `handler_modules` (so their
`@webhook_handler` decorators run) and checks that every named handler exists, so a typo fails
when the sensor or job starts, not when the first event arrives.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from core.errors import ValidationError
from core.settings import Settings
from events.routing.routes import RoutesFile, RouteTable

if TYPE_CHECKING:
    from events.handlers.registry import HandlerRegistry

DEFAULT_ROUTES_PATH = Path(__file__).resolve().parent.parent / "routes.yaml"
HINT = "see docs/webhook_routing.md for the routes file format"


def routes_path(settings: Settings) -> Path:
    """The routes file in force: WEBHOOK_ROUTES_PATH, else the shipped default."""
    if settings.WEBHOOK_ROUTES_PATH:
        return Path(settings.WEBHOOK_ROUTES_PATH).resolve()
    return DEFAULT_ROUTES_PATH


def load_routes_for(settings: Settings, handlers: HandlerRegistry | None = None) -> RouteTable:
    return load_routes(routes_path(settings), handlers=handlers)


def load_routes(path: Path, *, handlers: HandlerRegistry | None = None) -> RouteTable:
    """Parse and validate `path`; raise `ValidationError` naming file, line and field."""
    from events.handlers.registry import default_registry

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read the routes file: {exc}", hint=HINT) from exc
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML: {exc}", hint=HINT) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError(f"{path}:1: the routes file must be a mapping", hint=HINT)
    try:
        parsed = RoutesFile.model_validate(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        loc = [p for p in first["loc"] if p not in ("function-after", "function-before")]
        raise ValidationError(
            f"{path}:{_line_of(root, loc)}: {_dotted(loc) or '(file)'}: {first['msg']}",
            hint=HINT,
        ) from exc

    registry = handlers or default_registry
    for index, module in enumerate(parsed.handler_modules):
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is a config error here
            where = _line_of(root, ["handler_modules", index])
            raise ValidationError(
                f"{path}:{where}: handler_modules[{index}]: cannot import {module!r}: {exc}",
                hint=HINT,
            ) from exc
    registry.load_entry_points()
    for index, route in enumerate(parsed.routes):
        name = route.handler_name
        if name is not None and not registry.has(name):
            where = _line_of(root, ["routes", index, "handler"])
            known = ", ".join(registry.names()) or "none"
            raise ValidationError(
                f"{path}:{where}: routes[{index}].handler: no webhook handler named {name!r} "
                f"(registered: {known})",
                hint="register it with @webhook_handler or the "
                "integration_platform.webhook_handlers entry point group",
            )
    return RouteTable(
        routes=tuple(parsed.routes),
        source=str(path),
        handler_modules=tuple(parsed.handler_modules),
    )


def _dotted(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(root: yaml.Node | None, loc: Sequence[Any]) -> int:
    """1-based line of the deepest YAML node that `loc` reaches (keys point at their line)."""
    node = root
    line = (node.start_mark.line + 1) if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if key.value == str(part):
                    found = value
                    line = key.start_mark.line + 1
                    break
            if found is None:
                return line
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line

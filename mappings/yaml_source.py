"""YAML that remembers where each value came from, so a validation error can name the line.

PyYAML's composer keeps a start mark on every node; we build the plain Python data from the node
tree and record, for each path of keys and indexes, the 1-based line where it starts. This module
only reads YAML; it never interprets mapping semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

Path = tuple[str | int, ...]
Model = TypeVar("Model", bound=BaseModel)


class YamlSyntaxError(ValueError):
    """The text is not YAML (or holds several documents); `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the data and a map path -> line of that key or item."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(str(exc.problem or exc), line) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc), None) from exc
    except RecursionError:  # PyYAML composes nested collections recursively
        raise YamlSyntaxError("the YAML nests too deeply", None) from None
    finally:
        loader.dispose()
    lines: dict[Path, int] = {(): node.start_mark.line + 1}
    _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines)


def locate(loc: Sequence[Any], lines: dict[Path, int]) -> tuple[Path, int | None]:
    """The longest prefix of a pydantic error location that exists in the file, and its line.

    Pydantic locations carry extra elements for unions and tagged unions (`'str'`,
    `'function-after[...]'`, a tag value); they are skipped when they are not keys of the file.
    """
    path: Path = ()
    for element in loc:
        candidate = (*path, element)
        if candidate in lines:
            path = candidate
        elif isinstance(element, str) and element.isdigit() and (*path, int(element)) in lines:
            path = (*path, int(element))
    return path, lines.get(path)


def dotted(path: Path) -> str:
    """`fields.email.functions[0]` for ('fields', 'email', 'functions', 0)."""
    out = ""
    for element in path:
        if isinstance(element, int):
            out += f"[{element}]"
        else:
            out += ("." if out else "") + str(element)
    return out


def validate_with_lines(
    text: str,
    source: object,
    model: type[Model],
    error: Callable[[Any, int | None, str, str], Exception],
    *,
    expected: str,
    union_tags: Collection[str] = (),
) -> tuple[Model, dict[Path, int]]:
    """Parse one YAML document into `model`; the first problem raises `error(source, line,
    dotted field, message)`: not YAML, not a mapping (`expected` says what it should be), or
    the model's first validation error. `union_tags` are the discriminator values pydantic puts
    in error locations, which are never keys of the file. Returns the model and the lines."""
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as exc:
        raise error(source, exc.line, "", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error(source, lines.get(()), "", expected)
    try:
        value = model.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if p not in union_tags)
        _, line = locate(loc, lines)
        raise error(source, line, dotted(loc), first["msg"].removeprefix("Value error, ")) from None
    return value, lines

"""The bounded Jinja2 sandbox field templates run in (see `mappings.templates` for the rules).

Every operator that can grow a value (`+ * ** %`, `~`), every filter and every call is checked
before or right after it computes, against `MAX_TEXT` characters or items and `MAX_INT_BITS`
bits; `check_tree` refuses, when the file loads, what no runtime check could bound (macros,
block captures, method calls, unknown filters, deep nesting).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_CHARS = 10_000
MAX_NESTING = 64
MAX_TEXT = 65_536
MAX_INT_BITS = 4_096
MAX_RENDER_SECONDS = 2.0

ALLOWED_FILTERS = frozenset(
    {
        "abs", "capitalize", "center", "count", "d", "default", "e", "escape", "first",
        "float", "format", "indent", "int", "join", "last", "length", "list", "lower", "max",
        "min", "replace", "reverse", "round", "sort", "string", "striptags", "sum", "title",
        "tojson", "trim", "truncate", "unique", "upper", "urlencode", "wordcount", "wordwrap",
    }
)  # fmt: skip
_FORBIDDEN_NODES = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.FilterBlock: "filter blocks",
    nodes.AssignBlock: "block {% set %}",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
    nodes.ScopedEvalContextModifier: "autoescape blocks",
    nodes.EvalContextModifier: "autoescape blocks",
}
_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d+)[^{}]*\}")


class TemplateLimitError(ValueError):
    """A template crossed a resource limit or uses a construct the limits cannot bound."""


def _check_size(value: Any, what: str = "a value") -> Any:
    if isinstance(value, str | list | tuple | bytes) and len(value) > MAX_TEXT:
        raise TemplateLimitError(f"{what} exceeds {MAX_TEXT:,} characters or items")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"an integer exceeds {MAX_INT_BITS:,} bits")
    return value


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else len(str(value))


def _check_widths(fmt: Any) -> None:
    """`'%999999999s' % x` and `'{:999999999}'` allocate before any result can be checked."""
    if not isinstance(fmt, str):
        return
    for match in _PERCENT_WIDTH.finditer(fmt):
        for part in match.groups():
            if part == "*" or (part and int(part) > MAX_TEXT):
                raise TemplateLimitError(f"a format width exceeds {MAX_TEXT:,}")
    for match in _BRACE_WIDTH.finditer(fmt):
        if int(match.group(1)) > MAX_TEXT:
            raise TemplateLimitError(f"a format width exceeds {MAX_TEXT:,}")


def _bounded_binop(operator: str, left: Any, right: Any) -> Any:
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if right * (abs(left).bit_length() - 1) > MAX_INT_BITS:
            raise TemplateLimitError(f"an integer power exceeds {MAX_INT_BITS:,} bits")
    elif operator == "*":
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise TemplateLimitError(f"an integer product exceeds {MAX_INT_BITS:,} bits")
        for seq, count in ((left, right), (right, left)):
            repeats = isinstance(seq, str | list | tuple) and isinstance(count, int)
            if repeats and len(seq) * max(count, 0) > MAX_TEXT:
                raise TemplateLimitError(f"a repeated text exceeds {MAX_TEXT:,} characters")
    elif operator == "+" and isinstance(left, str | list | tuple) and type(left) is type(right):
        if len(left) + len(right) > MAX_TEXT:
            raise TemplateLimitError(f"a joined text exceeds {MAX_TEXT:,} characters")
    elif operator == "%" and isinstance(left, str):
        _check_widths(left)
    return None


def _guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Pre-check the filters whose result can dwarf their input, post-check every result."""

    passes_context = hasattr(function, "jinja_pass_arg")

    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = list(args[1:] if passes_context else args)  # skip the context argument
        value = values[0] if values else None
        rest = values[1:]
        if name == "center" and rest and isinstance(rest[0], int) and rest[0] > MAX_TEXT:
            raise TemplateLimitError(f"center width exceeds {MAX_TEXT:,}")
        if name == "indent":
            width = rest[0] if rest else kwargs.get("width", 4)
            size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            if value is not None and size * (str(value).count("\n") + 1) > MAX_TEXT:
                raise TemplateLimitError(f"indented text exceeds {MAX_TEXT:,} characters")
        if name == "replace" and len(rest) >= 2 and value is not None:
            text, old, new = str(value), str(rest[0]), str(rest[1])
            hits = text.count(old) if old else len(text) + 1
            if len(text) + hits * max(len(new) - len(old), 0) > MAX_TEXT:
                raise TemplateLimitError(f"replaced text exceeds {MAX_TEXT:,} characters")
        if name == "wordwrap" and value is not None:
            wrap = rest[2] if len(rest) > 2 else kwargs.get("wrapstring") or "\n"
            width = rest[0] if rest else kwargs.get("width", 79)
            breaks = len(str(value)) // max(int(width) if isinstance(width, int) else 1, 1) + 1
            if len(str(value)) + breaks * len(str(wrap)) > MAX_TEXT:
                raise TemplateLimitError(f"wrapped text exceeds {MAX_TEXT:,} characters")
        if name == "format" and value is not None:
            _check_widths(value)
        if name == "join" and value is not None:
            items = list(value) if isinstance(value, Iterable) else [value]
            separator = rest[0] if rest else kwargs.get("d", "")
            total = sum(_length(i) for i in items) + len(str(separator)) * max(len(items) - 1, 0)
            if total > MAX_TEXT:
                raise TemplateLimitError(f"joined text exceeds {MAX_TEXT:,} characters")
            args = tuple(items if a is value else a for a in args)
        return _check_size(function(*args, **kwargs), f"the {name} filter's result")

    if passes_context:
        guarded.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    return guarded


class _BoundedCodeGenerator(CodeGenerator):
    """`a ~ b` compiles to a size-checked join instead of the runtime's `str_join`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja API
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with size checks on operators, concatenation, filters and calls."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, keep_trailing_newline=False)
        self.filters = {
            name: _guard_filter(name, f)
            for name, f in self.filters.items()
            if name in ALLOWED_FILTERS
        }
        self.globals = {"range": self.globals["range"]}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _bounded_binop(operator, left, right)
        return _check_size(self.binop_table[operator](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        return _check_size(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def bounded_concat(self, parts: Iterable[Any]) -> str:
        pieces = [str(p) for p in parts]
        if sum(len(p) for p in pieces) > MAX_TEXT:
            raise TemplateLimitError(f"a concatenation exceeds {MAX_TEXT:,} characters")
        return "".join(pieces)


def check_tree(tree: nodes.Template) -> bool:
    """Refuse what the runtime checks cannot bound; True when the template loops."""
    loops = False
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise TemplateLimitError(f"the template nests deeper than {MAX_NESTING} levels")
        for kind, what in _FORBIDDEN_NODES.items():
            if isinstance(node, kind):
                raise TemplateLimitError(f"templates cannot use {what}")
        if isinstance(node, nodes.For):
            loops = True
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateLimitError(
                f"unknown or unsupported filter {node.name!r} "
                f"(use one of {', '.join(sorted(ALLOWED_FILTERS))})"
            )
        if isinstance(node, nodes.Call):
            target = node.node
            allowed = (isinstance(target, nodes.Name) and target.name == "range") or (
                isinstance(target, nodes.Getattr)
                and isinstance(target.node, nodes.Name)
                and target.node.name == "loop"
                and target.attr == "cycle"
            )
            if not allowed:
                raise TemplateLimitError(
                    "templates call range() and loop.cycle() only; use filters for the rest"
                )
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return loops

"""Field templates: Jinja2 in a sandbox, e.g. `{{ first_name }} {{ last_name }}`.

Templates read other target fields of the same row. A null field is left out of the context, so
it renders as nothing; the result is trimmed and empty text becomes null ("Ada" when the last
name is missing, null when both are). A template that raises while rendering (the sandbox
refuses unsafe attribute access, `x + 1` on text...) is a conversion failure for that row.

Resource limits. A template runs once per distinct input row inside a worker, so it must not be
able to hang or exhaust it (`{{ 9**30000000 }}`, `{{ 'a' * 300000000 }}`, nested loops). The
language is Jinja's expression and statement syntax minus what cannot be bounded, checked when
the file loads (`TemplateLimitError`, a `ValueError`, names the construct):

- no macros, call/filter blocks, block `{% set %}`, includes or imports, and no calls but
  `range(...)` (sandboxed: at most 100,000 items) and `loop.cycle(...)`;
- filters from `ALLOWED_FILTERS` only (no `random`: output must be a function of the row);
  no globals but `range`; containers are immutable (no `.append` accumulators);
- at most `MAX_TEMPLATE_CHARS` of source and `MAX_NESTING` levels of syntax.

What remains is bounded while it runs: every text or list a template builds (`+ * ~ %`, a
filter's result) and the rendered output hold at most `MAX_TEXT` characters or items, every
integer at most `MAX_INT_BITS` bits (checked before `**` or `*` computes it), and a template
with a loop renders for at most `MAX_RENDER_SECONDS`. Crossing a limit raises
`TemplateLimitError`: the engine and the reference report it as a `file:line: field: message`
error and write nothing; it is never a silent null. A template that crosses a limit without any
field (a constant blow-up) is refused when the file loads.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from mappings.template_limits import (
    MAX_NESTING,
    MAX_RENDER_SECONDS,
    MAX_TEMPLATE_CHARS,
    MAX_TEXT,
    BoundedEnvironment,
    TemplateLimitError,
    check_tree,
)
from mappings.types import FAILED, WHITESPACE

__all__ = ["FieldTemplate", "TemplateLimitError", "MAX_TEXT"]

_ENV = BoundedEnvironment()


class FieldTemplate:
    """One compiled template and the names it reads."""

    def __init__(self, source: str) -> None:
        self.source = source
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateLimitError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} chars")
        try:
            parsed = _ENV.parse(source)
        except TemplateSyntaxError as exc:
            raise ValueError(
                f"template syntax error on its line {exc.lineno}: {exc.message}"
            ) from exc
        except RecursionError:
            raise TemplateLimitError(
                f"the template nests deeper than {MAX_NESTING} levels"
            ) from None
        self.loops = check_tree(parsed)
        self.variables = sorted(meta.find_undeclared_variables(parsed))
        try:
            self._template = _ENV.from_string(parsed)
        except (RecursionError, MemoryError, SyntaxError):
            raise TemplateLimitError(
                f"the template nests deeper than {MAX_NESTING} levels"
            ) from None
        try:  # a blow-up that needs no field is refused now, not on the first row
            self.render({})
        except TemplateLimitError as exc:
            raise TemplateLimitError(f"{exc} (with every field null)") from None

    def render(self, values: Mapping[str, Any]) -> Any:
        """The rendered text, None, or FAILED; raises TemplateLimitError past a limit."""
        context = {k: v for k, v in values.items() if v is not None}
        try:
            text = self._traced(context) if self.loops else self._render(context)
        except TemplateLimitError:
            raise
        except Exception:  # noqa: BLE001 - any render error is this row's failure, by design
            return FAILED
        text = text.strip(WHITESPACE)
        return text or None

    def _render(self, context: dict[str, Any]) -> str:
        size = 0
        pieces = []
        for piece in self._template.generate(context):
            size += len(piece)
            if size > MAX_TEXT:
                raise TemplateLimitError(f"the rendered text exceeds {MAX_TEXT:,} characters")
            pieces.append(piece)
        return "".join(pieces)

    def _traced(self, context: dict[str, Any]) -> str:
        """Render with a deadline checked on every line the template's own code runs (loops
        are the only way to spend unbounded time once every value is bounded)."""
        deadline = time.monotonic() + MAX_RENDER_SECONDS

        def local(frame: Any, event: str, arg: Any) -> Any:
            if time.monotonic() > deadline:
                raise TemplateLimitError(f"rendering took longer than {MAX_RENDER_SECONDS} s")
            return local

        def calls(frame: Any, event: str, arg: Any) -> Any:
            return local if frame.f_code.co_filename == "<template>" else None

        previous = sys.gettrace()
        sys.settrace(calls)
        try:
            return self._render(context)
        finally:
            sys.settrace(previous)

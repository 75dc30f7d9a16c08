"""Field templates: Jinja2 in a sandbox, e.g. `{{ first_name }} {{ last_name }}`.

Templates read other target fields of the same row. A null field is left out of the context, so
it renders as nothing; the result is trimmed and empty text becomes null ("Ada" when the last
name is missing, null when both are). A template that raises while rendering (the sandbox
refuses unsafe attribute access) is a conversion failure for that row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from mappings.types import FAILED, WHITESPACE

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class FieldTemplate:
    """One compiled template and the names it reads."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            parsed = _ENV.parse(source)
        except TemplateSyntaxError as exc:
            raise ValueError(
                f"template syntax error on its line {exc.lineno}: {exc.message}"
            ) from exc
        self.variables = sorted(meta.find_undeclared_variables(parsed))
        self._template = _ENV.from_string(source)

    def render(self, values: Mapping[str, Any]) -> Any:
        context = {k: v for k, v in values.items() if v is not None}
        try:
            text = self._template.render(context)
        except Exception:  # noqa: BLE001 - any render error is this row's failure, by design
            return FAILED
        text = text.strip(WHITESPACE)
        return text or None

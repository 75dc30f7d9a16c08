"""What a mapping function is: a name, a config model, the categories it takes and gives, one
Python implementation (the reference semantics) and, when it can, SQL.

A function either compiles fully to SQL (`sql`), or decides the common inputs in SQL and leaves
the rest to Python (`fast_path`), or runs in Python only (neither). Python implementations see
non-null values only: a null input is a null output, never a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from mappings.sqlconvert import Builder, Ref
from mappings.types import FAILED  # noqa: F401  (re-exported for function authors)


class NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class FunctionContext:
    """What functions may depend on besides their input: settings, resolved per run."""

    phone_region: str = "US"
    salt: str = ""


class SqlStep(Protocol):
    """Handed to a function's SQL builder: the input column, a builder, the source columns."""

    builder: Builder
    value: Ref
    category: str
    config: Any
    context: FunctionContext

    def source(self, path: str) -> Ref: ...


@dataclass(frozen=True)
class SqlResult:
    value: Ref
    failed: Ref | None = None


@dataclass(frozen=True)
class FastPath:
    """Rows where `decided` is TRUE take value/failed from SQL; the others go to Python."""

    decided: Ref
    value: Ref
    failed: Ref | None = None


# values in -> (values out, failed flags); used by Python nodes over distinct inputs.
Vectorized = Callable[[Sequence[Any]], tuple[list[Any], list[bool]]]


@dataclass(frozen=True)
class FunctionDef:
    name: str
    summary: str
    config_model: type[BaseModel] = NoConfig
    accepts: frozenset[str] | None = frozenset({"string"})
    returns: Callable[[Any, str], str] = lambda config, category: "string"
    # scalar reference implementation: value -> value | FAILED (never sees None)
    python: Callable[[Any, FunctionContext], Callable[[Any], Any]] | None = None
    # optional faster batch implementation for Python nodes
    vectorized: Callable[[Any, FunctionContext], Vectorized] | None = None
    sql: Callable[[SqlStep], SqlResult] | None = None
    fast_path: Callable[[SqlStep], FastPath] | None = None
    source_paths: Callable[[Any], list[str]] = lambda config: []
    primary: str | None = None  # config key a bare scalar/list value fills, e.g. {split: ";"}
    custom: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def parse_config(self, raw: Any) -> BaseModel:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict) and self.primary:
            raw = {self.primary: raw}
        if not isinstance(raw, dict):
            raise ValueError(f"{self.name} takes a mapping of options, not {raw!r}")
        return self.config_model.model_validate(raw)

    def batch(self, config: Any, context: FunctionContext) -> Vectorized:
        """The Python implementation over a list of non-null values."""
        if self.vectorized is not None:
            return self.vectorized(config, context)
        assert self.python is not None, self.name
        scalar = self.python(config, context)

        def run(values: Sequence[Any]) -> tuple[list[Any], list[bool]]:
            out: list[Any] = []
            failed: list[bool] = []
            for value in values:
                result = scalar(value)
                if result is FAILED:
                    out.append(None)
                    failed.append(True)
                else:
                    out.append(result)
                    failed.append(False)
            return out, failed

        return run

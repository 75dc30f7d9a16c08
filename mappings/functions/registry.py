"""Where mapping functions are found by name: the built-ins, functions registered with the
`@mapping_function` decorator, and functions published by installed packages under the entry
point group `integration_platform.mapping_functions`.

Custom functions always run in Python (as vectorized UDFs over distinct values). They never see
a null: null in, null out.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from mappings.functions.base import FunctionContext, FunctionDef
from mappings.functions.builtins import (
    COALESCE,
    DOMAIN,
    EMPTY_TO_NULL,
    HASH,
    JOIN,
    LOWER,
    PARSE_DATE,
    SPLIT,
    TRIM,
    UPPER,
)
from mappings.functions.email import EMAIL_NORMALIZE
from mappings.functions.phone import PHONE_NORMALIZE
from mappings.types import CATEGORIES, FAILED

ENTRY_POINT_GROUP = "integration_platform.mapping_functions"
log = logging.getLogger(__name__)

BUILTINS: dict[str, FunctionDef] = {
    f.name: f
    for f in (
        TRIM,
        LOWER,
        UPPER,
        EMPTY_TO_NULL,
        SPLIT,
        JOIN,
        COALESCE,
        DOMAIN,
        HASH,
        PARSE_DATE,
        EMAIL_NORMALIZE,
        PHONE_NORMALIZE,
    )
}
_CUSTOM: dict[str, FunctionDef] = {}
_entry_points_loaded = False


class CustomOptions(BaseModel):
    """Custom functions receive their options as keyword arguments."""

    model_config = ConfigDict(extra="allow")


def _as_list(result: Any) -> list[Any]:
    if hasattr(result, "to_pylist"):
        return result.to_pylist()
    return list(result)


def _custom_def(
    name: str,
    func: Callable[..., Any],
    *,
    vectorized: bool,
    accepts: Iterable[str] | None,
    returns: str,
    summary: str,
) -> FunctionDef:
    if returns not in CATEGORIES:
        raise ValueError(f"mapping function {name!r}: returns must be one of {CATEGORIES}")

    def batch(config: Any, context: FunctionContext):
        options = config.model_dump() if isinstance(config, BaseModel) else dict(config or {})

        def run(values: Sequence[Any]) -> tuple[list[Any], list[bool]]:
            if not vectorized:
                out, failed = [], []
                for value in values:
                    try:
                        result = func(value, **options)
                    except ValueError:
                        result = FAILED
                    failed.append(result is FAILED)
                    out.append(None if result is FAILED else result)
                return out, failed
            import pyarrow as pa

            result = func(pa.array(list(values)), **options)
            if isinstance(result, tuple):
                out, flags = _as_list(result[0]), [bool(f) for f in _as_list(result[1])]
            else:
                out, flags = _as_list(result), [False] * len(values)
            if len(out) != len(values) or len(flags) != len(values):
                raise ValueError(
                    f"mapping function {name!r} returned {len(out)} values for {len(values)}"
                )
            return [None if f else v for v, f in zip(out, flags, strict=True)], flags

        return run

    def scalar(config: Any, context: FunctionContext):
        run = batch(config, context)

        def one(value: Any) -> Any:
            out, failed = run([value])
            return FAILED if failed[0] else out[0]

        return one

    return FunctionDef(
        name,
        summary,
        config_model=CustomOptions,
        accepts=frozenset(accepts) if accepts is not None else None,
        returns=lambda config, category: returns,
        python=scalar,
        vectorized=batch,
        custom=True,
    )


def mapping_function(
    name: str,
    *,
    vectorized: bool = True,
    accepts: Iterable[str] | None = ("string",),
    returns: str = "string",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Python function for use in mapping files as `- name` or `- {name: {...}}`.

    Vectorized (preferred): `func(values: pyarrow.Array, **options)` returns an array or list of
    the same length, or `(values, failed)` with a list of booleans marking failures. Scalar
    (`vectorized=False`): `func(value, **options)` per value; raise ValueError to mark a failure.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in BUILTINS:
            raise ValueError(f"{name!r} is a built-in mapping function")
        summary = (func.__doc__ or name).strip().splitlines()[0]
        _CUSTOM[name] = _custom_def(
            name, func, vectorized=vectorized, accepts=accepts, returns=returns, summary=summary
        )
        func.__mapping_function__ = name  # type: ignore[attr-defined]
        return func

    return decorate


def unregister(name: str) -> None:
    """Remove a custom function (tests register throwaway ones)."""
    _CUSTOM.pop(name, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception:  # noqa: BLE001 - one broken plugin must not hide the others
            log.exception("mapping function entry point %s failed to load", entry.name)
            continue
        plain = callable(loaded) and not hasattr(loaded, "__mapping_function__")
        if plain and entry.name not in _CUSTOM and entry.name not in BUILTINS:
            summary = (loaded.__doc__ or entry.name).strip().splitlines()[0]
            _CUSTOM[entry.name] = _custom_def(
                entry.name,
                loaded,
                vectorized=False,
                accepts=("string",),
                returns="string",
                summary=summary,
            )


def get_function(name: str) -> FunctionDef | None:
    if name in BUILTINS:
        return BUILTINS[name]
    if name not in _CUSTOM:
        _load_entry_points()
    return _CUSTOM.get(name)


def available_functions() -> list[str]:
    _load_entry_points()
    return sorted(BUILTINS) + sorted(_CUSTOM)

"""Mapping functions: built-ins, the custom-function decorator and the lookup by name."""

from mappings.functions.base import FastPath, FunctionContext, FunctionDef, SqlResult
from mappings.functions.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    available_functions,
    get_function,
    mapping_function,
    unregister,
)

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "FastPath",
    "FunctionContext",
    "FunctionDef",
    "SqlResult",
    "available_functions",
    "get_function",
    "mapping_function",
    "unregister",
]

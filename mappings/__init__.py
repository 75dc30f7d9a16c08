"""Mappings: declarative YAML specs from raw source tables to canonical `crm.*` tables, the
engine that runs them inside the warehouse, and the small in-memory API.

Attributes are imported lazily so `import mappings.dedup` stays light.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "FieldMapping": "mappings.legacy",
    "transform_data": "mappings.legacy",
    "MappingSpec": "mappings.spec",
    "load_mapping": "mappings.spec",
    "load_mappings": "mappings.spec",
    "parse_mapping": "mappings.spec",
    "MappingFileError": "mappings.errors",
    "MappingCompileError": "mappings.errors",
    "InvariantViolation": "mappings.errors",
    "MappingEngine": "mappings.engine",
    "MappingRunResult": "mappings.engine",
    "PreviewResult": "mappings.engine",
    "mapping_function": "mappings.functions",
    "FAILED": "mappings.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mappings' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)

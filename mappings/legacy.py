"""The seed's small in-memory API, kept working on top of the reference interpreter:

    transform_data(records, [FieldMapping("properties.email", "email", "email_normalize")])

One output dict per input record, in order, holding the target fields. A value that cannot be
converted becomes None (or the mapping's `default`); nothing is filtered, deduplicated or
quarantined here: that needs a mapping file and the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from core.errors import ValidationError
from mappings.reference import run_reference
from mappings.spec import MappingSpec, _semantics
from mappings.types import category_of

TYPE_ALIASES = {
    "str": "string",
    "text": "string",
    "int": "integer",
    "number": "float",
    "bool": "boolean",
    "timestamp": "datetime",
    "array": "list",
    "object": "json",
}
_ROW = "__row_number"


@dataclass
class FieldMapping:
    """One target field: where it comes from and how it is transformed.

    transformation_type: "direct", "value" (config {"value": ...}), "template" (config
    {"template": "{{ first_name }} {{ last_name }}"}, reading other target fields), "custom"
    (config {"function": name, **options}), or any built-in function name ("email_normalize",
    "phone_normalize", "lower", "upper", "trim", "domain", "hash", "split", "join",
    "parse_date", "coalesce", "empty_to_null") with its options as config. Config may also hold
    "on_error": "null" | "default", "default", "precision", "scale", "separator".
    """

    source_field: str | None
    target_field: str
    transformation_type: str = "direct"
    transformation_config: dict[str, Any] | None = field(default=None)
    data_type: str = "string"


_FIELD_OPTIONS = ("on_error", "default", "precision", "scale", "separator")


def _field_spec(mapping: FieldMapping) -> dict[str, Any]:
    config = dict(mapping.transformation_config or {})
    spec: dict[str, Any] = {"type": TYPE_ALIASES.get(mapping.data_type, mapping.data_type)}
    for option in _FIELD_OPTIONS:
        if option in config:
            spec[option] = config.pop(option)
    if spec.get("on_error") == "reject":
        raise ValidationError(
            f"{mapping.target_field}: transform_data returns one row per record",
            hint="use a mapping file and the MappingEngine to quarantine rejected rows",
        )
    kind = mapping.transformation_type
    if kind == "template":
        spec["template"] = config.pop("template", None)
    elif kind == "value":
        spec["value"] = config.pop("value", None)
    else:
        spec["source"] = mapping.source_field
    if kind == "custom":
        name = config.pop("function", None)
        spec["functions"] = [{name: config or None}]
    elif kind not in ("direct", "template", "value"):
        spec["functions"] = [{kind: config or None}]
    elif config:
        raise ValidationError(f"{mapping.target_field}: unknown options {sorted(config)}")
    return spec


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}__"))
        else:
            flat[name] = value
    return flat


def build_spec(mappings: list[FieldMapping]) -> MappingSpec:
    data = {
        "name": "in_memory",
        "source": {"provider": "memory", "table": "records", "id": _ROW, "updated_at": _ROW},
        "target": "memory.records",
        "fields": {m.target_field: _field_spec(m) for m in mappings},
    }
    try:
        spec = MappingSpec.model_validate(data)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ValidationError(f"{where}: {error['msg']}") from None
    problems = _semantics(spec)
    if problems:
        where, message = problems[0]
        raise ValidationError(f"{'.'.join(str(p) for p in where)}: {message}")
    return spec


def transform_data(records: list[dict[str, Any]], mappings: list[FieldMapping]) -> list[dict]:
    """Apply field mappings to in-memory records (nested dicts are addressed with dots)."""
    spec = build_spec(mappings)
    flat = [{**_flatten(r), _ROW: i} for i, r in enumerate(records)]
    types = {_ROW: "integer"}
    for record in flat:
        for key, value in record.items():
            if key not in types and value is not None:
                types[key] = category_of(value) or "string"
    result = run_reference(spec, flat, types=types)
    names = list(spec.fields)
    return [{name: row[name] for name in names} for row in result.rows]

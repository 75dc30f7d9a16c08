"""Validation and normalisation of property values written by clients (all stored as strings)."""

from __future__ import annotations

from typing import Any

import orjson

from sandbox.common.timefmt import iso_ms, parse_ms
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.responses import ApiError
from sandbox.hubspot.schema import READ_ONLY, PropertyDef, PropertyRegistry


def _error(name: str, code: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    }


def _coerce(prop: PropertyDef, raw: Any) -> tuple[str | None, dict[str, Any] | None]:
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        value = "true" if raw else "false"
    elif isinstance(raw, int | float):
        value = repr(raw) if isinstance(raw, float) else str(raw)
    else:
        value = str(raw)
    if value == "":
        return None, None  # an empty string clears the value
    if prop.type == "enumeration" and prop.options:
        for part in value.split(";"):
            if part not in prop.options:
                return None, _error(
                    prop.name,
                    "INVALID_OPTION",
                    f"{part} was not one of the allowed options: {list(prop.options)}",
                )
    elif prop.type == "number":
        try:
            float(value)
        except ValueError:
            return None, _error(
                prop.name, "INVALID_INTEGER", f"{value} is not a valid number for {prop.name}"
            )
    elif prop.type in ("datetime", "date"):
        ms = parse_ms(value)
        if ms is None:
            return None, _error(
                prop.name, "INVALID_DATE", f"{value} is not a valid date for {prop.name}"
            )
        value = iso_ms(ms)
    elif prop.type == "bool":
        if value.lower() not in ("true", "false"):
            return None, _error(prop.name, "INVALID_BOOLEAN", f"{value} is not a valid boolean")
        value = value.lower()
    if prop.name == "email" and "@" not in value:
        return None, _error(prop.name, "INVALID_EMAIL", f"Email address {value} is invalid")
    return value, None


def validate_values(
    otype: ObjectType, registry: PropertyRegistry, raw: Any
) -> tuple[dict[str, str | None], list[dict[str, Any]]]:
    """Normalise a `properties` object; returns (values, per-property errors)."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [_error("properties", "INVALID_INPUT", "properties must be an object")]
    values: dict[str, str | None] = {}
    errors: list[dict[str, Any]] = []
    for name, item in raw.items():
        prop = registry.get(otype, name)
        if prop is None:
            errors.append(
                _error(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if name in READ_ONLY:
            errors.append(
                _error(
                    name,
                    "READ_ONLY_VALUE",
                    f"{name} is a read only property; its value cannot be set.",
                )
            )
            continue
        value, err = _coerce(prop, item)
        if err:
            errors.append(err)
        else:
            values[name] = value
    return values, errors


def values_or_raise(
    otype: ObjectType, registry: PropertyRegistry, raw: Any
) -> dict[str, str | None]:
    values, errors = validate_values(otype, registry, raw)
    if errors:
        raise invalid_values(errors)
    return values


def invalid_values(errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(
        400,
        "Property values were not valid: " + orjson.dumps(errors).decode(),
        "VALIDATION_ERROR",
    )

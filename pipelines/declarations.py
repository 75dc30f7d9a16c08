"""Integration declarations: which integration is extracted, which entities, on what schedule.

Dagster builds its definitions from these (one factory for every integration), so reading the
YAML tells a reviewer what runs. `type` names a registered provider and `entities` its entities
(the provider's defaults when omitted). This module only parses and validates; it never runs
anything and never names a provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from core.errors import IntegrationError, ValidationError
from sources.provider import providers


class IntegrationDeclaration(BaseModel):
    """One integration as Dagster sees it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    type: str
    entities: list[str] = Field(default_factory=list, validate_default=True)
    schedule: str | None = "0 * * * *"
    freshness_hours: float = 24.0
    description: str | None = None

    @field_validator("type")
    @classmethod
    def _registered_provider(cls, value: str) -> str:
        if value not in providers:
            raise ValueError(
                f"unknown provider {value!r}; choose from {', '.join(providers.names())}"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_entities(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("entities") and data.get("type") in providers:
            provider = providers.get(data["type"])
            data = {**data, "entities": list(provider.default_entities or provider.entities)}
        return data

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("type")
        if kind not in providers:
            return value  # the type's own error says what is wrong
        provider = providers.get(kind)
        if not value:
            raise ValueError(f"{provider.title} declares no entities to extract")
        try:
            provider.resolve_entities(value)
        except IntegrationError as exc:
            raise ValueError(f"{exc.message}; {exc.hint}") from None
        return value


class Declarations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integrations: list[IntegrationDeclaration] = Field(default_factory=list)


def load_declarations(path: Path) -> Declarations:
    """Parse a declarations file; errors name the file and the field at fault."""
    if not path.exists():
        return Declarations()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML: {exc}") from exc
    try:
        decls = Declarations.model_validate(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationError(
            f"{path}: {where}: {first['msg']}", hint="see pipelines/declarations.yaml"
        ) from exc
    ids = [d.id for d in decls.integrations]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValidationError(f"{path}: integration ids declared twice: {', '.join(dupes)}")
    return decls

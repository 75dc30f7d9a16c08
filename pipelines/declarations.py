"""Integration declarations: which integration is extracted, which entities, on what schedule.

Dagster builds its definitions from these (one factory for every integration), so reading the
YAML tells a reviewer what runs. This module only parses and validates; it never runs anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from core.errors import ValidationError


class IntegrationDeclaration(BaseModel):
    """One integration as Dagster sees it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    type: Literal["hubspot"]
    entities: list[str] = Field(default_factory=lambda: ["contacts", "companies", "deals"])
    schedule: str | None = "0 * * * *"
    freshness_hours: float = 24.0
    description: str | None = None

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: list[str]) -> list[str]:
        from sources.hubspot.entities import ENTITIES

        unknown = [e for e in value if e not in ENTITIES]
        if unknown:
            raise ValueError(f"unknown entities {unknown}; choose from {sorted(ENTITIES)}")
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

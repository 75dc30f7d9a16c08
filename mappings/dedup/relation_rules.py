"""Relations between golden records, declared in YAML (`mappings/relations/*.yaml`): which link
tables and lookups relate the source records of two canonical models, so each relation becomes
pairs of golden ids (see relations.py and docs/dedup.md).

This module only parses and validates; it never touches a warehouse. An invalid file raises
`RelationFileError` naming the file, the line and the field at fault, in the same form as
mapping and match-rule files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from mappings.dedup.rules import IDENTIFIER, QUALIFIED_TABLE, MatchRules
from mappings.errors import MappingFileError
from mappings.yaml_source import dotted, locate, validate_with_lines

LINK_TYPES = ("association", "link_table", "lookup")
# Columns of the from model's golden table that a primary column may never take over.
RESERVED_COLUMNS = ("golden_id",)


class RelationFileError(MappingFileError):
    """A relation file is invalid: names the file, the line and the field (dotted path)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PrimaryMarker(_Strict):
    """Which link rows say "this is the primary one". With `labels`, the column holds
    `;`-separated type names (HubSpot's `association_type`) and any listed name marks it;
    without, the column is a boolean."""

    column: str = Field(pattern=IDENTIFIER)
    labels: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)


class AssociationLink(_Strict):
    """A provider's raw association table, one per integration: `raw_<provider>_<integration>.
    <table>` with the from record's id in `from_id` and the to record's id in `to_id`; both
    records belong to that provider and integration."""

    type: Literal["association"]
    provider: str = Field(pattern=IDENTIFIER)
    table: str = Field(pattern=IDENTIFIER)
    from_id: str = Field(pattern=IDENTIFIER)
    to_id: str = Field(pattern=IDENTIFIER)
    primary: PrimaryMarker | None = None

    def describe(self) -> str:
        return f"association {self.provider}.{self.table}"


class LinkTableLink(_Strict):
    """A warehouse table of links written by a mapping: rows with `_source`,
    `_source_integration` and the two records' ids (both of that source and integration)."""

    type: Literal["link_table"]
    table: str = Field(pattern=QUALIFIED_TABLE)
    from_id: str = Field(pattern=IDENTIFIER)
    to_id: str = Field(pattern=IDENTIFIER)
    primary: PrimaryMarker | None = None

    def describe(self) -> str:
        return f"link_table {self.table}"


class LookupLink(_Strict):
    """A column of the from model's canonical table holding the to record's source id in the
    same source and integration (a Salesforce contact's AccountId, a HubSpot contact's
    associatedcompanyid). A lookup names one record, so it is primary unless `primary: false`.
    Skipped (and reported) while the canonical table has no such column."""

    type: Literal["lookup"]
    column: str = Field(pattern=IDENTIFIER)
    source: str | None = Field(default=None, min_length=1, description="only rows of this source")
    primary: bool = True

    def describe(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"lookup {self.column}{where}"


Link = Annotated[AssociationLink | LinkTableLink | LookupLink, Field(discriminator="type")]


class RelationEnd(_Strict):
    """One side of a relation: the model (a match-rule file's `model`) and the bridge column
    that holds its golden id."""

    model: str = Field(pattern=IDENTIFIER)
    column: str = Field(pattern=IDENTIFIER)


class Relation(_Strict):
    """One relation: from records of one model to records of another, as golden id pairs."""

    name: str = Field(pattern=IDENTIFIER)
    description: str | None = None
    from_: RelationEnd = Field(alias="from")
    to: RelationEnd
    table: str | None = Field(default=None, pattern=QUALIFIED_TABLE)
    primary_column: str | None = Field(
        default=None,
        pattern=IDENTIFIER,
        description="a column added to the from model's golden table holding the one primary "
        "related golden id (None: no primary column, a pure many-to-many)",
    )
    max_unresolved_ratio: float = Field(default=0.05, ge=0, le=1)
    links: list[Link] = Field(min_length=1)

    _path: str = PrivateAttr(default="<memory>")
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @property
    def bridge(self) -> str:
        return self.table or f"crm.golden_{self.name}"

    @property
    def path(self) -> str:
        return self._path

    def line_of(self, *path: str | int) -> int | None:
        return locate(path, self._lines)[1]

    def error(self, message: str, *path: str | int) -> RelationFileError:
        located, line = locate(path, self._lines)
        return RelationFileError(self._path, line, dotted(located or path), message)


def parse_relation(text: str, path: Path | str = "<memory>") -> Relation:
    """Validate one relation file's YAML; raise RelationFileError naming file, line and field."""
    relation, lines = validate_with_lines(
        text,
        path,
        Relation,
        RelationFileError,
        expected="expected a mapping with name, from, to, links",
        union_tags=LINK_TYPES,
    )
    relation._path = str(path)
    relation._lines = lines
    problem = _semantics(relation)
    if problem:
        raise relation.error(problem[1], *problem[0])
    return relation


def _semantics(relation: Relation) -> tuple[tuple[str, ...], str] | None:
    """The first rule across fields that pydantic cannot say alone: (path, message)."""
    if relation.from_.column == relation.to.column:
        return ("to", "column"), (
            f"from.column and to.column are both {relation.to.column!r}; the bridge needs two"
        )
    column = relation.primary_column
    if column and (column.startswith("_") or column in RESERVED_COLUMNS):
        return ("primary_column",), (
            f"{column!r} is reserved in golden tables (golden_id and names starting with '_')"
        )
    return None


def load_relation(path: Path | str) -> Relation:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RelationFileError(path, None, "", f"cannot read: {exc.strerror}") from None
    return parse_relation(text, path)


def load_relations_dir(
    directory: Path | str, models: list[MatchRules] | None = None
) -> list[Relation]:
    """Every `*.yaml` of a directory, sorted by file name (none: an empty list). Names and
    bridge tables are unique; with `models` (the match rules), both ends must name one."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    relations = [load_relation(p) for p in sorted(directory.glob("*.yaml"))]
    names: dict[str, str] = {}
    tables: dict[str, str] = {}
    for relation in relations:
        if relation.name in names:
            raise relation.error(
                f"{relation.name!r} already declared in {names[relation.name]}", "name"
            )
        if relation.bridge in tables:
            raise relation.error(
                f"bridge table {relation.bridge} is also written by {tables[relation.bridge]}",
                "table" if relation.table else "name",
            )
        names[relation.name] = relation.path
        tables[relation.bridge] = relation.path
    if models is not None:
        check_models(relations, models)
    return relations


def check_models(relations: list[Relation], models: list[MatchRules]) -> None:
    """Both ends of every relation name a model with match rules (it has golden records and a
    crosswalk); two relations never write the same primary column."""
    known = {m.model: m for m in models}
    columns: dict[tuple[str, str], str] = {}
    for relation in relations:
        for side, end in (("from", relation.from_), ("to", relation.to)):
            if end.model not in known:
                choices = ", ".join(sorted(known)) or "none"
                raise relation.error(
                    f"no match rules for model {end.model!r} (models with golden records: "
                    f"{choices})",
                    side,
                    "model",
                )
        if relation.primary_column:
            key = (relation.from_.model, relation.primary_column)
            if key in columns:
                raise relation.error(
                    f"{relation.from_.model} golden column {relation.primary_column!r} is also "
                    f"written by relation {columns[key]}",
                    "primary_column",
                )
            columns[key] = relation.name


def describe(relation: Relation) -> dict[str, Any]:
    """A short, JSON-able summary (for metadata and the CLI)."""
    return {
        "name": relation.name,
        "from": relation.from_.model,
        "to": relation.to.model,
        "table": relation.bridge,
        "primary_column": relation.primary_column,
        "links": [link.describe() for link in relation.links],
    }

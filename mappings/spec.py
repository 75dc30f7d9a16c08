"""Mapping files (`mappings/*.yaml`): the pydantic models and the loader.

A mapping reads one raw source table and writes one canonical table (`crm.contacts` ...). An
invalid file raises `MappingFileError` naming the file, the line and the field: pydantic checks
the shape, then `_semantics` checks what needs the whole file (names that exist, types that
convert, expressions that type-check, templates without cycles). This module never touches a
warehouse; `mappings.compiler` turns a spec into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from mappings.errors import MappingFileError
from mappings.expressions import ExpressionError, names_in, parse
from mappings.functions import FunctionDef, get_function
from mappings.templates import FieldTemplate
from mappings.types import CATEGORIES, FAILED, DataType, can_convert, category_of, convert
from mappings.yaml_source import Path as YamlPath
from mappings.yaml_source import YamlSyntaxError, dotted, load_with_lines, locate

IDENTIFIER = r"^[a-z][a-z0-9_]*$"
# a template is checked (and trial-rendered) once per source text, not once per validator
_template = lru_cache(maxsize=512)(FieldTemplate)
SOURCE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
LINEAGE_KEYS = ("_source_id",)
# The nulled-values check warns when a field's conversion nulled more than this share of its
# non-null inputs (per mapping: settings.max_nulled_ratio; per field: max_nulled_ratio).
DEFAULT_MAX_NULLED_RATIO = 0.05
# on_error modes whose failures land in the target as NULL (and are counted as nulled values)
NULLING_MODES = ("null", "warn")
# How raw tables of every provider type their top-level columns (properties are text).
DEFAULT_SOURCE_TYPES = {
    "id": "string",
    "created_at": "datetime",
    "updated_at": "datetime",
    "archived": "boolean",
    "archived_at": "datetime",
    "_extracted_at": "datetime",
}
Category = Literal[
    "string", "integer", "decimal", "float", "boolean", "date", "datetime", "json", "list"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def column_of(path: str) -> str:
    """`properties.email` -> `properties__email` (dlt's naming of nested fields)."""
    return path.replace(".", "__")


def _check_path(value: str) -> str:
    if not SOURCE_PATH.match(value):
        raise ValueError(f"{value!r} is not a source path (e.g. properties.email)")
    return value


# Personal data: which kind a column holds and how the analyst-facing views show it
# (`privacy/`, docs/privacy.md): as is, masked, or as a salted SHA-256 hash.
PiiKind = Literal["email", "phone", "name", "address", "other"]
PiiPolicy = Literal["keep", "mask", "hash"]


class PiiSpec(_Strict):
    """One entry of a mapping's `pii:` section: `email: {kind: email, policy: mask}`."""

    kind: PiiKind
    policy: PiiPolicy


class SourceSpec(_Strict):
    provider: Annotated[str, Field(pattern=IDENTIFIER)]
    table: Annotated[str, Field(pattern=IDENTIFIER)]
    id: str = "id"
    updated_at: str = "updated_at"
    # declared categories of source paths, for validation before the raw table exists
    columns: dict[str, Category] = Field(default_factory=dict)

    _paths = field_validator("id", "updated_at")(classmethod(lambda cls, v: _check_path(v)))

    def types(self) -> dict[str, str]:
        return {**DEFAULT_SOURCE_TYPES, **self.columns}

    def category(self, path: str) -> str:
        return self.types().get(path, "string")


class FunctionStep(_Strict):
    """One function application: `- trim` or `- {phone_normalize: {region: GB}}`."""

    name: str
    config: Any = None
    _definition: FunctionDef | None = PrivateAttr(default=None)
    _options: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return {"name": raw}
        if isinstance(raw, dict) and len(raw) == 1 and "name" not in raw:
            ((name, config),) = raw.items()
            return {"name": name, "config": config}
        raise ValueError("a function is a name or a one-key mapping {name: options}")

    @model_validator(mode="after")
    def _resolve(self) -> FunctionStep:
        definition = get_function(self.name)
        if definition is None:
            raise ValueError(f"unknown function {self.name!r}")
        try:
            self._options = definition.parse_config(self.config)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(f"{self.name}: {detail}") from None
        self._definition = definition
        return self

    @property
    def definition(self) -> FunctionDef:
        assert self._definition is not None
        return self._definition

    @property
    def options(self) -> Any:
        return self._options


_UNSET: Any = object()


class ProducerSpec(_Strict):
    """Where a value comes from: a source path, a literal, a template, or a condition."""

    source: str | None = None
    value: Any = _UNSET
    template: str | None = None
    when: str | None = None
    then: ProducerSpec | None = None
    otherwise: ProducerSpec | None = Field(default=None, alias="else")
    functions: list[FunctionStep] = Field(default_factory=list)

    _template: FieldTemplate | None = PrivateAttr(default=None)

    @field_validator("source")
    @classmethod
    def _source_path(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value)

    @field_validator("template")
    @classmethod
    def _template_syntax(cls, value: str | None) -> str | None:
        if value is not None:
            _template(value)
        return value

    @model_validator(mode="after")
    def _one_producer(self) -> ProducerSpec:
        given = [
            n
            for n, present in (
                ("source", self.source is not None),
                ("value", self.value is not _UNSET),
                ("template", self.template is not None),
                ("when", self.when is not None),
            )
            if present
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of source, value, template, when"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.when is not None:
            if self.then is None:
                raise ValueError("when needs then (and optionally else)")
            if self.functions:
                raise ValueError("put functions inside then/else, not beside when")
        elif self.then is not None or self.otherwise is not None:
            raise ValueError("then/else belong to a when")
        if self.template is not None:
            self._template = _template(self.template)
        return self

    @property
    def has_value(self) -> bool:
        return self.value is not _UNSET

    @property
    def compiled_template(self) -> FieldTemplate:
        assert self._template is not None
        return self._template


class FieldSpec(ProducerSpec):
    """A target column: a producer, a type, and what happens when conversion fails."""

    type: Category = "string"
    precision: Annotated[int, Field(ge=1, le=38)] | None = None
    scale: Annotated[int, Field(ge=0, le=38)] | None = None
    separator: str | None = None
    # null: field null, row kept | warn: field null, row kept, and a quarantine row with
    # severity warn records the original value | reject: row quarantined | default: `default`
    on_error: Literal["null", "warn", "reject", "default"] = "null"
    default: Any = None
    max_nulled_ratio: Annotated[float, Field(ge=0, le=1)] | None = None
    description: str | None = None

    @field_validator("on_error", mode="before")
    @classmethod
    def _yaml_null(cls, value: Any) -> Any:
        return "null" if value is None else value  # YAML reads `on_error: null` as None

    @model_validator(mode="after")
    def _type_options(self) -> FieldSpec:
        if self.type != "decimal" and (self.precision is not None or self.scale is not None):
            raise ValueError("precision and scale apply to decimal only")
        if self.type != "list" and self.separator is not None:
            raise ValueError("separator applies to list only")
        if self.separator == "":
            raise ValueError("separator must not be empty")
        dtype = self.data_type
        if dtype.scale > dtype.precision:
            raise ValueError("scale must not exceed precision")
        if self.on_error == "default" and self.default is None:
            raise ValueError("on_error: default needs a default value")
        if self.default is not None and self.on_error != "default":
            raise ValueError("default is used only with on_error: default")
        if self.max_nulled_ratio is not None and self.on_error not in NULLING_MODES:
            raise ValueError("max_nulled_ratio applies to on_error: null or warn only")
        return self

    @property
    def data_type(self) -> DataType:
        return DataType(
            self.type,
            precision=self.precision if self.precision is not None else 18,
            scale=self.scale if self.scale is not None else 2,
            separator=self.separator or ";",
        )


class _RuleBase(_Strict):
    name: Annotated[str, Field(pattern=IDENTIFIER)] | None = None
    severity: Literal["reject", "warn"] = "reject"
    message: str | None = None


class RequiredRule(_RuleBase):
    rule: Literal["required"]
    field: str


class RegexRule(_RuleBase):
    rule: Literal["regex"]
    field: str
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


class RangeRule(_RuleBase):
    rule: Literal["range"]
    field: str
    min: Any = None
    max: Any = None

    @model_validator(mode="after")
    def _bounded(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        return self


class EnumRule(_RuleBase):
    rule: Literal["enum"]
    field: str
    values: list[Any] = Field(min_length=1)


class UniqueRule(_RuleBase):
    rule: Literal["unique"]
    field: str


class CrossFieldRule(_RuleBase):
    rule: Literal["cross_field"]
    expression: str


Rule = Annotated[
    RequiredRule | RegexRule | RangeRule | EnumRule | UniqueRule | CrossFieldRule,
    Field(discriminator="rule"),
]


class MappingSettings(_Strict):
    phone_region: str | None = None
    # the share of a field's non-null inputs its conversion may null before the mapping's
    # nulled-values check warns (a field's own max_nulled_ratio wins)
    max_nulled_ratio: Annotated[float, Field(ge=0, le=1)] = DEFAULT_MAX_NULLED_RATIO


class MappingSpec(_Strict):
    """One mapping file."""

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    description: str | None = None
    source: SourceSpec
    target: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
    key: list[str] = Field(default_factory=lambda: ["_source_id"], min_length=1)
    where: str | None = None
    settings: MappingSettings = Field(default_factory=MappingSettings)
    fields: dict[str, FieldSpec] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    pii: dict[str, PiiSpec] = Field(default_factory=dict)

    _path: str = PrivateAttr(default="<memory>")
    _lines: dict[YamlPath, int] = PrivateAttr(default_factory=dict)

    @field_validator("key", mode="before")
    @classmethod
    def _one_key(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def target_schema(self) -> str:
        return self.target.split(".", 1)[0]

    @property
    def target_table(self) -> str:
        return self.target.split(".", 1)[1]

    @property
    def quarantine_table(self) -> str:
        return f"{self.target}_quarantine"

    @property
    def path(self) -> str:
        return self._path

    def line_of(self, *path: str | int) -> int | None:
        """The line of a key path in the file (the nearest enclosing key that exists)."""
        located, line = locate(path, self._lines)
        return line

    def rule_names(self) -> list[str]:
        return [rule_name(rule, i) for i, rule in enumerate(self.rules)]

    def nulling_fields(self) -> list[str]:
        """Fields whose conversion failures land in the target as NULL (on_error null or
        warn), in declaration order: the fields whose nulled values a run counts."""
        return [name for name, f in self.fields.items() if f.on_error in NULLING_MODES]

    def max_nulled_ratio(self, field: str) -> float:
        """The nulled-values threshold of a field: its own, else the mapping's."""
        own = self.fields[field].max_nulled_ratio
        return own if own is not None else self.settings.max_nulled_ratio


def rule_name(rule: Any, index: int) -> str:
    if rule.name:
        return rule.name
    if isinstance(rule, CrossFieldRule):
        return f"cross_field_{index + 1}"
    return f"{rule.field}_{rule.rule}"


# --- semantic checks -------------------------------------------------------------------------


def iter_producers(
    producer: ProducerSpec, path: YamlPath
) -> Iterator[tuple[ProducerSpec, YamlPath]]:
    yield producer, path
    if producer.then is not None:
        yield from iter_producers(producer.then, (*path, "then"))
    if producer.otherwise is not None:
        yield from iter_producers(producer.otherwise, (*path, "else"))


def template_dependencies(field: FieldSpec) -> set[str]:
    found: set[str] = set()
    for producer, _ in iter_producers(field, ()):
        if producer.template is not None:
            found.update(producer.compiled_template.variables)
    return found


def field_order(spec: MappingSpec) -> list[str]:
    """Fields in dependency order (templates after the fields they read); declaration order
    otherwise. Assumes no cycles (checked by `_semantics`)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(template_dependencies(spec.fields[name])):
            if dep in spec.fields:
                visit(dep)
        done.append(name)

    for name in spec.fields:
        visit(name)
    return done


def _semantics(spec: MappingSpec) -> list[tuple[YamlPath, str]]:
    problems: list[tuple[YamlPath, str]] = []
    source_types = spec.source.types()
    field_types = {name: f.type for name, f in spec.fields.items()}
    for name in spec.fields:
        if not re.match(IDENTIFIER, name):
            problems.append(
                (("fields", name), "field names are lower-case identifiers (not starting with _)")
            )
    for index, key in enumerate(spec.key):
        if key in LINEAGE_KEYS:
            continue
        if key not in spec.fields:
            problems.append((("key", index), f"key {key!r} is not a field (or _source_id)"))
        elif spec.fields[key].type in ("json", "list"):
            problems.append((("key", index), f"key {key!r} is {spec.fields[key].type}"))
    if spec.where is not None:
        _check_expression(spec.where, source_types, ("where",), problems)
    for name, field in spec.fields.items():
        _check_field(spec, name, field, source_types, problems)
    problems.extend(_template_cycles(spec))
    names = spec.rule_names()
    for index, rule in enumerate(spec.rules):
        path = ("rules", index)
        if names.count(names[index]) > 1:
            problems.append(((*path, "name"), f"rule name {names[index]!r} is used twice"))
        if isinstance(rule, CrossFieldRule):
            _check_expression(rule.expression, field_types, (*path, "expression"), problems)
            continue
        if rule.field not in spec.fields:
            problems.append(((*path, "field"), f"unknown field {rule.field!r}"))
            continue
        _check_rule_values(rule, spec.fields[rule.field], path, problems)
    for name, pii in spec.pii.items():
        if name not in spec.fields:
            problems.append((("pii", name), f"unknown field {name!r}"))
        elif pii.policy == "mask" and spec.fields[name].type != "string":
            problems.append((("pii", name, "policy"), "mask applies to text fields only"))
    return problems


def _check_expression(
    source: str, types: dict[str, str], path: YamlPath, problems: list[tuple[YamlPath, str]]
) -> None:
    try:
        names = names_in(source)
        known = dict(types)
        for name in names:
            known.setdefault(name, "string")  # undeclared source paths are text
        parse(source, known if path[0] != "rules" else types)
    except ExpressionError as exc:
        problems.append((path, str(exc)))


def _check_field(
    spec: MappingSpec,
    name: str,
    field: FieldSpec,
    source_types: dict[str, str],
    problems: list[tuple[YamlPath, str]],
) -> None:
    base = ("fields", name)
    dtype = field.data_type
    for producer, path in iter_producers(field, base):
        if producer.when is not None:
            _check_expression(producer.when, source_types, (*path, "when"), problems)
            continue
        if producer.template is not None:
            for var in producer.compiled_template.variables:
                if var not in spec.fields:
                    problems.append(((*path, "template"), f"template reads unknown field {var!r}"))
                elif var == name:
                    problems.append(((*path, "template"), "a template cannot read its own field"))
        category = _producer_category(producer, source_types)
        for index, step in enumerate(producer.functions):
            definition = step.definition
            if definition.accepts is not None and category not in definition.accepts | {"null"}:
                problems.append(
                    (
                        (*path, "functions", index),
                        f"{step.name} takes {' or '.join(sorted(definition.accepts))}, "
                        f"got {category}",
                    )
                )
                break
            for extra in definition.source_paths(step.options):
                _check_path_syntax(extra, (*path, "functions", index), problems)
                if category != "null" and source_types.get(extra, "string") != category:
                    problems.append(
                        (
                            (*path, "functions", index),
                            f"coalesce mixes {category} with {extra} "
                            f"({source_types.get(extra, 'string')})",
                        )
                    )
            category = definition.returns(step.options, category)
        else:
            if not can_convert(category, dtype.name):
                problems.append(((*path,), f"cannot convert {category} to {dtype.name}"))
            elif producer.has_value and producer.value is not None and not producer.functions:
                converted = convert(producer.value, category, dtype)
                if converted is FAILED:
                    problems.append(((*path, "value"), f"{producer.value!r} is not a {dtype}"))
    if field.default is not None:
        category = category_of(field.default) or "string"
        # convertibility first: converting 0 to a datetime has no rule and would raise
        if not can_convert(category, dtype.name) or (
            convert(field.default, category, dtype) is FAILED
        ):
            problems.append(((*base, "default"), f"{field.default!r} is not a {dtype}"))


def _check_path_syntax(path: str, where: YamlPath, problems: list[tuple[YamlPath, str]]) -> None:
    if not SOURCE_PATH.match(path):
        problems.append((where, f"{path!r} is not a source path"))


def _producer_category(producer: ProducerSpec, source_types: dict[str, str]) -> str:
    if producer.source is not None:
        return source_types.get(producer.source, "string")
    if producer.template is not None:
        return "string"
    return category_of(producer.value) or "null"


def _template_cycles(spec: MappingSpec) -> list[tuple[YamlPath, str]]:
    state: dict[str, int] = {}
    problems: list[tuple[YamlPath, str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(template_dependencies(spec.fields[name])):
            if dep not in spec.fields or dep == name:
                continue
            if state.get(dep) == 1:
                cycle = " -> ".join([*trail[trail.index(dep) :], dep]) if dep in trail else dep
                problems.append((("fields", name), f"templates form a cycle: {cycle}"))
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in spec.fields:
        if name not in state:
            visit(name, [name])
    return problems


def _check_rule_values(
    rule: Any, field: FieldSpec, path: YamlPath, problems: list[tuple[YamlPath, str]]
) -> None:
    dtype = field.data_type
    if isinstance(rule, RegexRule) and dtype.name != "string":
        problems.append(
            ((*path, "field"), f"regex applies to text fields, {rule.field} is {dtype}")
        )
    if isinstance(rule, RangeRule):
        if dtype.name not in ("integer", "decimal", "float", "date", "datetime", "string"):
            problems.append(((*path, "field"), f"range does not apply to {dtype}"))
        for bound in ("min", "max"):
            value = getattr(rule, bound)
            if value is not None and _rule_literal(value, dtype) is FAILED:
                problems.append(((*path, bound), f"{value!r} is not a {dtype}"))
    if isinstance(rule, EnumRule):
        if dtype.name in ("json", "list"):
            problems.append(((*path, "field"), f"enum does not apply to {dtype}"))
        for index, value in enumerate(rule.values):
            if _rule_literal(value, dtype) is FAILED:
                problems.append(((*path, "values", index), f"{value!r} is not a {dtype}"))
    if isinstance(rule, UniqueRule) and dtype.name in ("json", "list"):
        problems.append(((*path, "field"), f"unique does not apply to {dtype}"))


def _rule_literal(value: Any, dtype: DataType) -> Any:
    """A rule bound or enum value in the field's type (YAML dates arrive as date objects)."""
    category = category_of(value) or "null"
    if category in ("date", "datetime") and dtype.name == "string":
        return FAILED
    if not can_convert(category, dtype.name):
        return FAILED
    if dtype.name == "decimal":
        dtype = DataType("decimal", 38, 10)
    result = convert(value, category, dtype)
    return FAILED if result is None else result


def rule_literal(value: Any, dtype: DataType) -> Any:
    return _rule_literal(value, dtype)


# --- descriptions (shared by engine and reference) ---


def template_limit_error(spec: MappingSpec, where: YamlPath, exc: Exception) -> MappingFileError:
    """A template that crossed a resource limit on some row: the run stops with the file, line
    and field of the template (never a silent null, never a hung worker)."""
    return MappingFileError(spec.path, spec.line_of(*where), dotted(where), str(exc))


def failure_reason(spec: FieldSpec) -> str:
    steps = []
    stack = [spec]
    while stack:
        producer = stack.pop(0)
        if producer.when is not None:
            stack.extend(p for p in (producer.then, producer.otherwise) if p is not None)
        else:
            steps.extend(s.name for s in producer.functions)
    what = " / ".join(dict.fromkeys([*steps, str(spec.data_type)]))
    return f"value could not be converted ({what})"


def rule_reason(rule: Any) -> str:
    if isinstance(rule, RequiredRule):
        return f"{rule.field} is required"
    if isinstance(rule, RegexRule):
        return f"{rule.field} does not match {rule.pattern}"
    if isinstance(rule, RangeRule):
        return f"{rule.field} is outside [{rule.min}, {rule.max}]"
    if isinstance(rule, EnumRule):
        return f"{rule.field} is not one of {', '.join(str(v) for v in rule.values)}"
    if isinstance(rule, UniqueRule):
        return f"{rule.field} duplicates a newer row"
    return f"{rule.expression} is false"


# --- loading ---------------------------------------------------------------------------------


def parse_mapping(text: str, path: str | Path = "<memory>") -> MappingSpec:
    """Validate mapping YAML text; raise MappingFileError naming file, line and field."""
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as exc:
        raise MappingFileError(path, exc.line, "", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MappingFileError(path, lines.get(()), "", "a mapping file is a YAML mapping")
    if "name" not in data:
        data["name"] = Path(str(path)).stem
    try:
        spec = MappingSpec.model_validate(data)
    except ValidationError as exc:
        found = []
        for error in exc.errors():
            located, line = locate(error["loc"], lines)
            message = error["msg"].removeprefix("Value error, ")
            found.append(MappingFileError(path, line, dotted(located), message))
        raise _first_of(path, found) from None
    except RecursionError:
        raise MappingFileError(path, None, "", "the file nests too deeply") from None
    problems = _semantics(spec)
    if problems:
        found = []
        for where, message in problems:
            located, line = locate(where, lines)
            found.append(MappingFileError(path, line, dotted(where), message))
        raise _first_of(path, found, word="")
    spec._path = str(path)
    spec._lines = lines
    return spec


def _first_of(
    path: str | Path, found: list[MappingFileError], word: str = " problem"
) -> MappingFileError:
    """The error naming the first problem and counting the rest; `.problems` holds them all."""
    first = found[0]
    message = first.detail
    extra = len(found) - 1
    if extra:
        message += f" (and {extra} more{word}{'s' if extra > 1 and word else ''})"
    return MappingFileError(path, first.line, first.field, message, problems=found)


def load_mapping(path: str | Path) -> MappingSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingFileError(path, None, "", f"cannot read: {exc.strerror}") from None
    return parse_mapping(text, path)


def mapping_files(directory: str | Path) -> list[Path]:
    """The mapping files of a directory: its own *.yaml / *.yml (sub-folders hold other
    declarations, e.g. match rules)."""
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_mappings(directory: str | Path) -> list[MappingSpec]:
    specs = [load_mapping(p) for p in mapping_files(directory)]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise MappingFileError(
                spec.path,
                spec.line_of("name"),
                "name",
                f"mapping name {spec.name!r} is also used by {seen[spec.name]}",
            )
        seen[spec.name] = spec.path
    return specs


ALL_CATEGORIES = CATEGORIES

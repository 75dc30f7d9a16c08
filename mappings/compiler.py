"""Compile a MappingSpec against a source schema into one SQL query plus Python nodes.

The query computes, for every raw row: the target fields, whether a row filter dropped it,
whether a rule rejected it (first rule and all reasons), whether a newer row with the same key
replaced it, the warnings it raised, and its status: `filtered`, `quarantined`, `deduplicated`
or `out`. The engine materialises that one result and writes the target and quarantine tables
from it. Python nodes (phone/e-mail inputs the SQL fast path cannot decide, templates,
parse_date, JSON text, custom functions) are computed first, over distinct inputs.

Semantics are those of `mappings.reference`; property tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mappings.errors import MappingCompileError
from mappings.expressions import ExpressionError, names_in, parse
from mappings.frame import Col, Frame, PythonNode
from mappings.functions import FunctionContext
from mappings.spec import (
    NULLING_MODES,
    CrossFieldRule,
    EnumRule,
    FieldSpec,
    FunctionStep,
    MappingSpec,
    ProducerSpec,
    RangeRule,
    RegexRule,
    RequiredRule,
    UniqueRule,
    column_of,
    failure_reason,
    field_order,
    rule_literal,
    rule_reason,
    template_limit_error,
)
from mappings.sqlconvert import convert
from mappings.sqlgen import Dialect, quote, string_literal
from mappings.templates import TemplateLimitError
from mappings.types import FAILED, DataType, can_convert, category_of, json_text, needs_python
from mappings.types import convert as convert_value

STATUSES = ("out", "quarantined", "deduplicated", "filtered")


@dataclass(frozen=True)
class SourceColumn:
    name: str
    category: str
    sql_type: str
    naive: bool = False  # a timestamp without time zone (taken as UTC)


@dataclass
class SourceSchema:
    relation: str  # quoted schema.table
    columns: dict[str, SourceColumn]

    def find(self, path: str) -> SourceColumn | None:
        name = column_of(path)
        if name in self.columns:
            return self.columns[name]
        lowered = {k.lower(): v for k, v in self.columns.items()}
        return lowered.get(name.lower())


@dataclass(frozen=True)
class RuleCheck:
    name: str
    severity: str
    reason: str
    violated: Col


@dataclass(frozen=True)
class NullingField:
    """A field whose conversion failures land in the target as NULL (on_error null or warn).
    The result query carries `__nulled_<index>` (TRUE where a non-null input failed) and, for
    on_error warn, `__original_<index>` (the producer's value as text, for the quarantine)."""

    name: str
    index: int
    on_error: str
    rule: str
    reason: str

    @property
    def nulled_column(self) -> str:
        return f"__nulled_{self.index}"

    @property
    def original_column(self) -> str:
        return f"__original_{self.index}"


@dataclass
class CompiledMapping:
    spec: MappingSpec
    dialect: Dialect
    frame: Frame
    fields: dict[str, tuple[Col, DataType]]
    outputs: list[tuple[str, str]]
    warnings: list[RuleCheck]
    lineage: dict[str, list[str]]
    missing_columns: list[str]
    nulling: list[NullingField] = field(default_factory=list)

    @property
    def nodes(self) -> list[PythonNode]:
        return self.frame.nodes

    def result_sql(self) -> str:
        return self.frame.select_sql(self.outputs)


def compile_mapping(
    spec: MappingSpec,
    schema: SourceSchema,
    dialect: Dialect,
    context: FunctionContext,
    *,
    sample: int | None = None,
    unique_source_ids: bool = False,
) -> CompiledMapping:
    """`unique_source_ids`: the caller verified no two source rows share an id (lets a
    `key: [_source_id]` mapping skip the deduplication window)."""
    return _Compiler(spec, schema, dialect, context, sample, unique_source_ids).compile()


@dataclass
class _Step:
    """What a function's SQL builder sees (mappings.functions.base.SqlStep)."""

    builder: Frame
    value: Col
    category: str
    config: Any
    context: FunctionContext
    compiler: _Compiler

    def source(self, path: str) -> Col:
        return self.compiler.source(path)


@dataclass
class _Compiler:
    spec: MappingSpec
    schema: SourceSchema
    dialect: Dialect
    context: FunctionContext
    sample: int | None
    unique_source_ids: bool = False
    frame: Frame = field(init=False)
    sources: dict[str, Col] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    finals: dict[str, Col] = field(default_factory=dict)
    lineage: dict[str, list[str]] = field(default_factory=dict)
    # per producer (by id): its base value and category, and a when's condition (for originals)
    bases: dict[int, tuple[Col, str]] = field(default_factory=dict)
    conditions: dict[int, Col] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.frame = Frame(self.dialect, self.schema.relation, self.sample)

    # --- sources ---------------------------------------------------------------------------

    def source(self, path: str) -> Col:
        if path in self.sources:
            return self.sources[path]
        column = self.schema.find(path)
        d = self.dialect
        if column is None:
            self.missing.append(path)
            col = self.frame.source(d.null("string"), "string")
        else:
            sql = f"r.{quote(column.name)}"
            if column.category == "datetime" and column.naive:
                sql = d.utc(sql)
            elif column.category == "string" and column.sql_type.upper() not in (
                "VARCHAR",
                "TEXT",
                "CHARACTER VARYING",
            ):
                sql = d.cast(sql, d.sql_type(DataType("string")))
            col = self.frame.source(sql, column.category)
        self.sources[path] = col
        return col

    def category(self, path: str) -> str:
        column = self.schema.find(path)
        return column.category if column else "string"

    def condition(self, source_text: str, where: tuple) -> Col:
        """A boolean column over source paths (null where the expression is null)."""
        try:
            types = {n: self.category(n) for n in names_in(source_text)}
            expression = parse(source_text, types)
        except ExpressionError as exc:
            raise self.error(where, str(exc)) from None
        refs = {n: self.source(n) for n in expression.names}
        created: list[Col] = []
        sql = expression.to_sql(self.dialect, lambda name: refs[name].ref, self.frame, created)
        return self.frame.col(sql, *refs.values(), *created, category="boolean")

    def error(self, where: tuple, message: str) -> MappingCompileError:
        line = self.spec.line_of(*where)
        location = f"{self.spec.path}:{line}" if line else self.spec.path
        dotted = ".".join(str(p) for p in where)
        return MappingCompileError(f"{location}: {dotted}: {message}")

    # --- compile ---------------------------------------------------------------------------

    def compile(self) -> CompiledMapping:
        spec, d, frame = self.spec, self.dialect, self.frame
        self.fields_types = {name: f.type for name, f in spec.fields.items()}
        ordinal = frame.source(d.row_locator("r"), "ordinal", name="__ordinal")
        sid = self.source(spec.source.id)
        updated = self.source(spec.source.updated_at)
        supd_value, _ = (
            convert(frame, updated, updated.category, DataType("datetime"))
            if (can_convert(updated.category, "datetime"))
            else (frame.col(d.null("datetime"), category="datetime"), None)
        )
        keep = (
            self.condition(spec.where, ("where",))
            if spec.where
            else frame.col("TRUE", category="boolean")
        )
        keep = frame.col(f"coalesce({keep.ref}, FALSE)", keep, category="boolean")

        field_fail: dict[str, Col] = {}
        nulled_fail: dict[str, Col | None] = {}
        types: dict[str, DataType] = {}
        for name in field_order(spec):
            field_spec = spec.fields[name]
            value, failed = self.field(name, field_spec, keep)
            types[name] = field_spec.data_type
            self.finals[name] = value
            if field_spec.on_error == "reject" and failed is not None:
                field_fail[name] = failed
            if field_spec.on_error in NULLING_MODES:
                nulled_fail[name] = failed

        rejects: list[RuleCheck] = []
        warnings: list[RuleCheck] = []
        missing_id = frame.col(f"({sid.ref} IS NULL)", sid, category="boolean")
        rejects.append(
            RuleCheck("source_id_missing", "reject", f"{spec.source.id} is null", missing_id)
        )
        for name in spec.fields:  # conversion failures first, in declaration order
            if name in field_fail:
                reason = f"{name}: {failure_reason(spec.fields[name])}"
                rejects.append(RuleCheck(f"{name}_invalid", "reject", reason, field_fail[name]))
        uniques: list[tuple[str, Any]] = []
        for index, rule in enumerate(spec.rules):
            rule_name = spec.rule_names()[index]
            if isinstance(rule, UniqueRule):
                uniques.append((rule_name, rule))
                continue
            check = RuleCheck(
                rule_name,
                rule.severity,
                rule.message or rule_reason(rule),
                self.rule_violation(rule, index),
            )
            (rejects if rule.severity == "reject" else warnings).append(check)

        reject_rule = self.first_of(rejects, "string")
        reasons = [
            f"CASE WHEN {c.violated.ref} THEN {string_literal(c.reason)} END" for c in rejects
        ]
        reject_reason = frame.col(
            f"NULLIF(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else d.null("string"),
            *(c.violated for c in rejects),
            category="string",
        )
        eligible = frame.col(
            f"({keep.ref} AND {reject_rule.ref} IS NULL)", keep, reject_rule, category="boolean"
        )
        order = (
            f"{supd_value.ref} DESC NULLS LAST, {d.order_key(sid.ref, sid.category)} DESC, "
            f"{ordinal.ref} DESC"
        )
        key_cols = [sid if k == "_source_id" else self.finals[k] for k in spec.key]
        any_null = " OR ".join(f"{k.ref} IS NULL" for k in key_cols)
        if self.unique_source_ids and spec.key == ["_source_id"]:
            # the engine checked that no two raw rows share an id: nothing to deduplicate,
            # and no window sort over every column (the costliest step of a run)
            rank = frame.col(f"CASE WHEN {eligible.ref} THEN 1 END", eligible, category="integer")
        else:
            rank = frame.col(
                f"CASE WHEN NOT {eligible.ref} THEN NULL WHEN {any_null} THEN 1 ELSE "
                f"row_number() OVER (PARTITION BY {', '.join(k.ref for k in key_cols)}, "
                f"{eligible.ref} ORDER BY {order}) END",
                eligible,
                *key_cols,
                supd_value,
                sid,
                ordinal,
                category="integer",
            )
        survivor = frame.col(
            f"({eligible.ref} AND {rank.ref} = 1)", eligible, rank, category="boolean"
        )
        unique_checks: list[RuleCheck] = []
        for rule_name, rule in uniques:
            value = self.finals[rule.field]
            group = f"({survivor.ref} AND {value.ref} IS NOT NULL)"
            violated = frame.col(
                f"CASE WHEN {group} THEN row_number() OVER (PARTITION BY {value.ref}, {group} "
                f"ORDER BY {order}) > 1 ELSE FALSE END",
                survivor,
                value,
                supd_value,
                sid,
                ordinal,
                category="boolean",
            )
            check = RuleCheck(rule_name, rule.severity, rule.message or rule_reason(rule), violated)
            (unique_checks if rule.severity == "reject" else warnings).append(check)
        unique_rule = self.first_of(unique_checks, "string")
        unique_reasons = [
            f"CASE WHEN {c.violated.ref} THEN {string_literal(c.reason)} END" for c in unique_checks
        ]
        status = frame.col(
            f"CASE WHEN NOT {keep.ref} THEN 'filtered' "
            f"WHEN {reject_rule.ref} IS NOT NULL THEN 'quarantined' "
            f"WHEN {rank.ref} > 1 THEN 'deduplicated' "
            f"WHEN {unique_rule.ref} IS NOT NULL THEN 'quarantined' ELSE 'out' END",
            keep,
            reject_rule,
            rank,
            unique_rule,
            category="string",
        )
        unique_reason = (
            f"NULLIF(concat_ws('; ', {', '.join(unique_reasons)}), '')"
            if unique_reasons
            else d.null("string")
        )
        rule = frame.col(
            f"CASE WHEN {status.ref} = 'quarantined' THEN coalesce({reject_rule.ref}, "
            f"{unique_rule.ref}) END",
            status,
            reject_rule,
            unique_rule,
            category="string",
        )
        reason = frame.col(
            f"CASE WHEN {status.ref} <> 'quarantined' THEN NULL "
            f"WHEN {reject_rule.ref} IS NOT NULL THEN {reject_reason.ref} "
            f"ELSE {unique_reason} END",
            status,
            reject_rule,
            reject_reason,
            *(c.violated for c in unique_checks),
            category="string",
        )
        source_id = (
            sid.ref if sid.category == "string" else d.cast(sid.ref, d.sql_type(DataType("string")))
        )
        outputs = [
            (status.ref, "__status"),
            (rule.ref, "__rule"),
            (reason.ref, "__reason"),
            (source_id, "__source_id"),
            (supd_value.ref, "__source_updated_at"),
            (ordinal.ref, "__ordinal"),
        ]
        for index, check in enumerate(warnings):
            outputs.append((f"coalesce({check.violated.ref}, FALSE)", f"__warn_{index}"))
        nulling: list[NullingField] = []
        for index, name in enumerate(spec.nulling_fields()):
            field_spec = spec.fields[name]
            nulled = NullingField(
                name,
                index,
                field_spec.on_error,
                f"{name}_invalid",
                f"{name}: {failure_reason(field_spec)}",
            )
            nulling.append(nulled)
            failed = nulled_fail[name]
            outputs.append(
                (f"coalesce({failed.ref}, FALSE)" if failed else "FALSE", nulled.nulled_column)
            )
            if field_spec.on_error == "warn":
                outputs.append((self.original(field_spec).ref, nulled.original_column))
        for name in spec.fields:
            outputs.append((self.finals[name].ref, name))
        self.lineage["_source_id"] = [spec.source.id]
        self.lineage["_source_updated_at"] = [spec.source.updated_at]
        return CompiledMapping(
            spec,
            d,
            frame,
            {name: (self.finals[name], types[name]) for name in spec.fields},
            outputs,
            warnings,
            {k: self.lineage[k] for k in ["_source_id", "_source_updated_at", *spec.fields]},
            sorted(set(self.missing)),
            nulling,
        )

    def original(self, producer: ProducerSpec) -> Col:
        """The producer's value before functions and conversion, as text (a `when` gives the
        value of the branch it took): what an `on_error: warn` quarantine row records."""
        d, frame = self.dialect, self.frame
        if producer.when is not None:
            condition = self.conditions[id(producer)]
            assert producer.then is not None
            then = self.original(producer.then)
            otherwise = (
                self.original(producer.otherwise)
                if producer.otherwise is not None
                else frame.col(d.null("string"), category="string")
            )
            return frame.col(
                f"CASE WHEN {condition.ref} THEN {then.ref} ELSE {otherwise.ref} END",
                condition,
                then,
                otherwise,
                category="string",
            )
        base, category = self.bases[id(producer)]
        if category == "null" or not can_convert(category, "string"):
            return frame.col(d.null("string"), category="string")
        text, _ = convert(frame, base, category, DataType("string"))
        return text

    def first_of(self, checks: list[RuleCheck], category: str) -> Col:
        if not checks:
            return self.frame.col(self.dialect.null(category), category=category)
        whens = " ".join(f"WHEN {c.violated.ref} THEN {string_literal(c.name)}" for c in checks)
        return self.frame.col(f"CASE {whens} END", *(c.violated for c in checks), category=category)

    # --- fields ----------------------------------------------------------------------------

    def field(self, name: str, spec: FieldSpec, keep: Col) -> tuple[Col, Col | None]:
        dtype = spec.data_type
        sources: set[str] = set()
        value, failed = self.producer(name, spec, ("fields", name), dtype, keep, sources)
        self.lineage[name] = sorted(sources)
        d, frame = self.dialect, self.frame
        sql_type = d.sql_type(dtype)
        if spec.on_error == "default":
            default = convert_default(spec)
            literal = d.literal(default, dtype.name)
            fail_ref = failed.ref if failed is not None else "FALSE"
            deps = [value] + ([failed] if failed is not None else [])
            value = frame.col(
                f"CAST(CASE WHEN {fail_ref} THEN {literal} ELSE {value.ref} END AS {sql_type})",
                *deps,
                category=dtype.name,
            )
        else:
            value = frame.col(f"CAST({value.ref} AS {sql_type})", value, category=dtype.name)
        return value, failed

    def producer(
        self,
        field_name: str,
        producer: ProducerSpec,
        where: tuple,
        dtype: DataType,
        domain: Col,
        lineage: set[str],
    ) -> tuple[Col, Col | None]:
        frame = self.frame
        if producer.when is not None:
            lineage.update(names_in(producer.when))
            raw = self.condition(producer.when, (*where, "when"))
            condition = frame.col(f"coalesce({raw.ref}, FALSE)", raw, category="boolean")
            self.conditions[id(producer)] = condition
            then_domain = frame.col(
                f"({domain.ref} AND {condition.ref})", domain, condition, category="boolean"
            )
            else_domain = frame.col(
                f"({domain.ref} AND NOT {condition.ref})", domain, condition, category="boolean"
            )
            assert producer.then is not None
            then_value, then_failed = self.producer(
                field_name, producer.then, (*where, "then"), dtype, then_domain, lineage
            )
            if producer.otherwise is not None:
                else_value, else_failed = self.producer(
                    field_name, producer.otherwise, (*where, "else"), dtype, else_domain, lineage
                )
            else:
                else_value = frame.col(self.dialect.null(dtype.name), category=dtype.name)
                else_failed = None
            value = frame.col(
                f"CASE WHEN {condition.ref} THEN {then_value.ref} ELSE {else_value.ref} END",
                condition,
                then_value,
                else_value,
                category=dtype.name,
            )
            if then_failed is None and else_failed is None:
                return value, None
            tf = then_failed.ref if then_failed else "FALSE"
            ef = else_failed.ref if else_failed else "FALSE"
            failed = frame.col(
                f"CASE WHEN {condition.ref} THEN {tf} ELSE {ef} END",
                condition,
                *(c for c in (then_failed, else_failed) if c is not None),
                category="boolean",
            )
            return value, failed

        value, category, failed = self.base_value(field_name, producer, where, domain, lineage)
        self.bases[id(producer)] = (value, category)
        for index, step in enumerate(producer.functions):
            value, category, failed = self.apply(
                step, value, category, failed, domain, (*where, "functions", index), lineage
            )
        if not can_convert(category, dtype.name):
            raise self.error(where, f"cannot convert {category} to {dtype}")
        if needs_python(category, dtype.name):
            node = self.frame.node(
                f"{field_name}: json",
                [value],
                self.domain_for(domain, value),
                "json",
                _scalar_batch(lambda text: convert_value(text, "string", dtype)),
                memo=("json",),
            )
            converted, conv_failed = node.value, node.failed
        else:
            converted, conv_failed = convert(frame, value, category, dtype)
        return converted, self.either(failed, conv_failed)

    def base_value(
        self,
        field_name: str,
        producer: ProducerSpec,
        where: tuple,
        domain: Col,
        lineage: set[str],
    ) -> tuple[Col, str, Col | None]:
        d, frame = self.dialect, self.frame
        if producer.source is not None:
            lineage.add(producer.source)
            col = self.source(producer.source)
            return col, col.category, None
        if producer.has_value:
            category = category_of(producer.value) or "null"
            if category == "null":
                return frame.col("NULL", category="null"), "null", None
            return frame.col(d.literal(producer.value, category), category=category), category, None
        template = producer.compiled_template
        inputs = [self.finals[v] for v in template.variables]
        for var in template.variables:
            lineage.update(self.lineage.get(var, []))
        if not inputs:
            try:
                rendered = template.render({})
            except TemplateLimitError as exc:
                raise template_limit_error(self.spec, (*where, "template"), exc) from None
            if rendered is FAILED:
                raise self.error((*where, "template"), "the template fails to render")
            return frame.col(d.literal(rendered, "string"), category="string"), "string", None
        names = list(template.variables)
        json_inputs = {i for i, c in enumerate(inputs) if c.category == "json"}

        def render(rows):
            out, failed = [], []
            for row in rows:
                if json_inputs:
                    row = [
                        json_text(v) if i in json_inputs and v is not None else v
                        for i, v in enumerate(row)
                    ]
                try:
                    result = template.render(dict(zip(names, row, strict=True)))
                except TemplateLimitError as exc:
                    raise template_limit_error(self.spec, (*where, "template"), exc) from None
                failed.append(result is FAILED)
                out.append(None if result is FAILED else result)
            return out, failed

        node = frame.node(
            f"{field_name}: template",
            inputs,
            domain,
            "string",
            render,
            nulls=True,
            memo=("template", template.source),
        )
        return node.value, "string", node.failed

    def apply(
        self,
        step: FunctionStep,
        value: Col,
        category: str,
        failed: Col | None,
        domain: Col,
        where: tuple,
        lineage: set[str],
    ) -> tuple[Col, str, Col | None]:
        definition = step.definition
        frame = self.frame
        if definition.accepts is not None and category not in definition.accepts | {"null"}:
            raise self.error(
                where,
                f"{step.name} takes {' or '.join(sorted(definition.accepts))}, got {category}",
            )
        if category == "null":
            if step.name != "coalesce":
                # a null literal stays null through any other function
                output = definition.returns(step.options, "string")
                return frame.col(self.dialect.null(output), category=output), output, failed
            category = self.source(step.options.paths[0]).category
        output = definition.returns(step.options, category)
        sql_step = _Step(frame, value, category, step.options, self.context, self)
        if step.name == "coalesce":
            lineage.update(step.options.paths)
            for path in step.options.paths:
                other = self.source(path).category
                if other != category:
                    raise self.error(where, f"coalesce mixes {category} with {path} ({other})")
            result = definition.sql(sql_step)
            new_value = result.value
            if failed is not None:
                new_value = frame.col(
                    f"CASE WHEN {failed.ref} THEN NULL ELSE {new_value.ref} END",
                    failed,
                    new_value,
                    category=output,
                )
            return new_value, output, failed
        if definition.sql is not None:
            result = definition.sql(sql_step)
            return result.value, output, self.either(failed, result.failed)
        batch = definition.batch(step.options, self.context)
        label = f"{where[1]}: {step.name}"
        if definition.fast_path is not None:
            fast = definition.fast_path(sql_step)
            node_domain = frame.col(
                f"({domain.ref} AND NOT {fast.decided.ref} AND {value.ref} IS NOT NULL)",
                domain,
                fast.decided,
                value,
                category="boolean",
            )
            memo = ("function", step.name, repr(step.options))
            node = frame.node(label, [value], node_domain, output, _first_column(batch), memo=memo)
            fast_failed = fast.failed.ref if fast.failed is not None else "FALSE"
            new_value = frame.col(
                f"CASE WHEN {fast.decided.ref} THEN {fast.value.ref} ELSE {node.value.ref} END",
                fast.decided,
                fast.value,
                node.value,
                category=output,
            )
            new_failed = frame.col(
                f"CASE WHEN {fast.decided.ref} THEN {fast_failed} ELSE {node.failed.ref} END",
                fast.decided,
                node.failed,
                *([fast.failed] if fast.failed is not None else []),
                category="boolean",
            )
            return new_value, output, self.either(failed, new_failed)
        node = frame.node(
            label,
            [value],
            self.domain_for(domain, value),
            output,
            _first_column(batch),
            memo=("function", step.name, repr(step.options)),
        )
        return node.value, output, self.either(failed, node.failed)

    def domain_for(self, domain: Col, value: Col) -> Col:
        return self.frame.col(
            f"({domain.ref} AND {value.ref} IS NOT NULL)", domain, value, category="boolean"
        )

    def either(self, first: Col | None, second: Col | None) -> Col | None:
        if first is None:
            return second
        if second is None:
            return first
        return self.frame.col(f"({first.ref} OR {second.ref})", first, second, category="boolean")

    # --- rules -----------------------------------------------------------------------------

    def rule_violation(self, rule: Any, index: int) -> Col:
        d, frame = self.dialect, self.frame
        if isinstance(rule, CrossFieldRule):
            try:
                expression = parse(rule.expression, self.fields_types)
            except ExpressionError as exc:
                raise self.error(("rules", index, "expression"), str(exc)) from None
            refs = {n: self.finals[n] for n in expression.names}
            sql = expression.to_sql(d, lambda name: refs[name].ref)
            # a cross-field rule fails only when its condition is FALSE (like a CHECK)
            return frame.col(f"coalesce(NOT {sql}, FALSE)", *refs.values(), category="boolean")
        value = self.finals[rule.field]
        dtype = self.spec.fields[rule.field].data_type
        if isinstance(rule, RequiredRule):
            empty = f" OR {value.ref} = ''" if dtype.name == "string" else ""
            return frame.col(f"({value.ref} IS NULL{empty})", value, category="boolean")
        if isinstance(rule, RegexRule):
            return frame.col(
                f"({value.ref} IS NOT NULL AND NOT {d.full_match(value.ref, rule.pattern)})",
                value,
                category="boolean",
            )
        if isinstance(rule, RangeRule):
            checks = []
            for bound, op in (("min", "<"), ("max", ">")):
                raw_bound = getattr(rule, bound)
                if raw_bound is None:
                    continue
                literal = d.literal(rule_literal(raw_bound, dtype), dtype.name)
                if dtype.name == "string":
                    checks.append(d.compare_strings(value.ref, op, literal))
                else:
                    checks.append(f"{value.ref} {op} {literal}")
            return frame.col(
                f"({value.ref} IS NOT NULL AND ({' OR '.join(checks)}))",
                value,
                category="boolean",
            )
        if isinstance(rule, EnumRule):
            literals = ", ".join(d.literal(rule_literal(v, dtype), dtype.name) for v in rule.values)
            return frame.col(
                f"({value.ref} IS NOT NULL AND {value.ref} NOT IN ({literals}))",
                value,
                category="boolean",
            )
        raise TypeError(rule)


def convert_default(spec: FieldSpec) -> Any:
    value = spec.default
    return convert_value(value, category_of(value) or "string", spec.data_type)


def _first_column(batch):
    def run(rows):
        return batch([row[0] for row in rows])

    return run


def _scalar_batch(scalar):
    def run(rows):
        out, failed = [], []
        for (value,) in rows:
            result = scalar(value)
            failed.append(result is FAILED)
            out.append(None if result is FAILED else result)
        return out, failed

    return run

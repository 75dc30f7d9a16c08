"""The row-by-row reference interpreter of mappings: plain Python, one record at a time.

It exists to define what a mapping means, for tests (the engine must produce the same rows,
quarantine the same records for the same rules, and count the same) and for the small in-memory
API (`transform_data`). It is deliberately straightforward, never fast; production runs use
`mappings.engine`.

Records are flat dicts keyed by raw column names (`properties__email`), as in the warehouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mappings.expressions import names_in, parse
from mappings.functions import FunctionContext
from mappings.spec import (
    CrossFieldRule,
    EnumRule,
    FieldSpec,
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
from mappings.templates import TemplateLimitError
from mappings.types import FAILED, DataType, can_convert, category_of, convert, json_text


@dataclass
class ReferenceResult:
    rows: list[dict[str, Any]]
    # the quarantine table's rows: rejected rows (severity reject; rows_quarantined counts
    # these) and on_error: warn values of rows that are out (severity warn, field, value)
    quarantined: list[dict[str, Any]]
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    rows_deduplicated: int = 0
    rows_filtered: int = 0
    warnings_by_rule: dict[str, int] = field(default_factory=dict)
    # as MappingRunResult: values nulled by conversion and non-null inputs, per field with
    # on_error null or warn, over the rows out
    nulled_by_field: dict[str, int] = field(default_factory=dict)
    inputs_by_field: dict[str, int] = field(default_factory=dict)


@dataclass
class _Row:
    index: int
    record: dict[str, Any]
    keep: bool = True
    sid: Any = None
    updated: Any = None
    values: dict[str, Any] = field(default_factory=dict)
    rejects: list[tuple[str, str]] = field(default_factory=list)
    warns: list[str] = field(default_factory=list)
    failures: dict[str, bool] = field(default_factory=dict)
    originals: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    rule: str | None = None
    reason: str | None = None


def infer_types(records: list[dict[str, Any]]) -> dict[str, str]:
    """Column categories from the first non-null value of each column (text by default)."""
    types: dict[str, str] = {}
    for record in records:
        for key, value in record.items():
            if key not in types or types[key] == "null":
                types[key] = category_of(value) or "null"
    return {k: ("string" if v == "null" else v) for k, v in types.items()}


class ReferenceInterpreter:
    def __init__(
        self,
        spec: MappingSpec,
        types: dict[str, str],
        context: FunctionContext | None = None,
    ) -> None:
        self.spec = spec
        self.types = types
        self.lowered = {k.lower(): k for k in types}
        self.context = context or FunctionContext()
        self.order = field_order(spec)
        self.expressions: dict[str, Any] = {}
        self.unique_rules = [
            (spec.rule_names()[i], rule)
            for i, rule in enumerate(spec.rules)
            if isinstance(rule, UniqueRule)
        ]
        self.where = self._condition(spec.where) if spec.where else None
        self.field_types = {name: f.type for name, f in spec.fields.items()}
        self._compile()

    # --- values ------------------------------------------------------------------------------

    def column(self, path: str) -> str | None:
        name = column_of(path)
        if name in self.types:
            return name
        return self.lowered.get(name.lower())

    def category(self, path: str) -> str:
        column = self.column(path)
        return self.types[column] if column else "string"

    def source(self, record: dict[str, Any], path: str) -> Any:
        column = self.column(path)
        value = record.get(column) if column else None
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def _condition(self, text: str):
        if text not in self.expressions:
            self.expressions[text] = parse(text, {n: self.category(n) for n in names_in(text)})
        return self.expressions[text]

    def _truth(self, text: str, record: dict[str, Any]) -> bool:
        expression = self._condition(text)
        values = {n: self.source(record, n) for n in expression.names}
        return expression.evaluate(values) is True

    # --- one record --------------------------------------------------------------------------

    def row(self, index: int, record: dict[str, Any]) -> _Row:
        spec = self.spec
        row = _Row(index, record)
        if self.where is not None:
            values = {n: self.source(record, n) for n in self.where.names}
            row.keep = self.where.evaluate(values) is True
        row.sid = self._value(record, self.id_column)
        updated = self._value(record, self.updated_column)
        if updated is not None:
            updated = (
                convert(updated, self.updated_category, DataType("datetime"))
                if can_convert(self.updated_category, "datetime")
                else None
            )
        row.updated = None if updated is FAILED else updated
        failures = row.failures
        for name, program in self.programs:
            value, failed, original = program(record, row.values)
            row.values[name] = value
            failures[name] = failed
            row.originals[name] = original
        if row.sid is None:
            row.rejects.append(("source_id_missing", f"{spec.source.id} is null"))
        for name, reason in self.reject_fields:
            if failures[name]:
                row.rejects.append((f"{name}_invalid", reason))
        for name, severity, reason, violated in self.row_rules:
            if violated(row.values):
                if severity == "reject":
                    row.rejects.append((name, reason))
                else:
                    row.warns.append(name)
        return row

    def _value(self, record: dict[str, Any], column: str | None) -> Any:
        value = record.get(column) if column else None
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    # --- each field compiled once into a closure (a straightforward per-row program) ---------

    def _compile(self) -> None:
        spec = self.spec
        self.id_column = self.column(spec.source.id)
        self.updated_column = self.column(spec.source.updated_at)
        self.updated_category = self.category(spec.source.updated_at)
        self.programs = [(name, self._field(name, spec.fields[name])) for name in self.order]
        self.reject_fields = [
            (name, f"{name}: {failure_reason(f)}")
            for name, f in spec.fields.items()
            if f.on_error == "reject"
        ]
        names = spec.rule_names()
        self.row_rules = [
            (names[i], rule.severity, rule.message or rule_reason(rule), self._rule_check(rule))
            for i, rule in enumerate(spec.rules)
            if not isinstance(rule, UniqueRule)
        ]

    def _field(self, name: str, spec: FieldSpec):
        dtype = spec.data_type
        produce = self._producer(spec, dtype, ("fields", name))
        if spec.on_error != "default":
            return produce
        default = convert(spec.default, category_of(spec.default) or "string", dtype)

        def with_default(record, finals):
            value, failed, original = produce(record, finals)
            return (default if failed else value), failed, original

        return with_default

    def _producer(self, producer: ProducerSpec, dtype: DataType, where: tuple = ()):
        if producer.when is not None:
            condition = self._condition(producer.when)
            columns = [(n, self.column(n)) for n in condition.names]
            then = self._producer(producer.then, dtype, (*where, "then"))
            otherwise = (
                self._producer(producer.otherwise, dtype, (*where, "else"))
                if producer.otherwise
                else None
            )

            def branch(record, finals):
                values = {n: self._value(record, c) for n, c in columns}
                if condition.evaluate(values) is True:
                    return then(record, finals)
                return otherwise(record, finals) if otherwise else (None, False, None)

            return branch
        if producer.source is not None:
            column = self.column(producer.source)
            category = self.category(producer.source)

            def base(record, finals):
                return self._value(record, column), False
        elif producer.has_value:
            constant = producer.value
            category = category_of(constant) or "null"

            def base(record, finals):
                return constant, False
        else:
            template = producer.compiled_template
            variables = template.variables
            json_fields = {v for v in variables if self.field_types.get(v) == "json"}
            category = "string"

            def base(record, finals):
                values = {v: finals.get(v) for v in variables}
                for name in json_fields:
                    if values[name] is not None:
                        values[name] = json_text(values[name])
                try:
                    rendered = template.render(values)
                except TemplateLimitError as exc:
                    raise template_limit_error(self.spec, (*where, "template"), exc) from None
                return (None, True) if rendered is FAILED else (rendered, False)

        base_category = category
        steps = []
        for step in producer.functions:
            definition = step.definition
            options = step.options
            if category == "null" and step.name == "coalesce":
                category = self.category(options.paths[0])
            if category == "null":
                steps.append(("null", None))
                category = definition.returns(options, "string")
            elif step.name == "coalesce":
                steps.append(("coalesce", [self.column(p) for p in options.paths]))
                category = definition.returns(options, category)
            else:
                steps.append(("call", self._scalar(definition, options)))
                category = definition.returns(options, category)
        final_category = category

        def run(record, finals):
            value, failed = base(record, finals)
            original = _text_of(value, base_category)
            for kind, arg in steps:
                if kind == "null":
                    value = None
                elif kind == "coalesce":
                    if not failed and value is None:
                        for column in arg:
                            value = self._value(record, column)
                            if value is not None:
                                break
                elif value is not None:
                    result = arg(value)
                    if result is FAILED:
                        value, failed = None, True
                    else:
                        value = result
            converted = convert(value, final_category, dtype)
            if converted is FAILED:
                return None, True, original
            return converted, failed, original

        return run

    def _scalar(self, definition, options):
        if definition.python is not None:
            return definition.python(options, self.context)
        batch = definition.batch(options, self.context)

        def one(value):
            out, failed = batch([value])
            return FAILED if failed[0] else out[0]

        return one

    def _rule_check(self, rule: Any):
        """A closure values -> violated? for one row-level rule."""
        if isinstance(rule, CrossFieldRule):
            expression = parse(rule.expression, self.field_types)
            return lambda values: expression.evaluate(values) is False
        name = rule.field
        dtype = self.spec.fields[name].data_type
        if isinstance(rule, RequiredRule):
            text = dtype.name == "string"
            return lambda values: values[name] is None or (text and values[name] == "")
        if isinstance(rule, RegexRule):
            pattern = re.compile(rule.pattern, re.DOTALL)
            return lambda values: (
                values[name] is not None and pattern.fullmatch(values[name]) is None
            )
        if isinstance(rule, RangeRule):
            low = None if rule.min is None else rule_literal(rule.min, dtype)
            high = None if rule.max is None else rule_literal(rule.max, dtype)

            def outside(values):
                value = values[name]
                if value is None:
                    return False
                return (low is not None and value < low) or (high is not None and value > high)

            return outside
        if isinstance(rule, EnumRule):
            allowed = [rule_literal(v, dtype) for v in rule.values]
            return lambda values: values[name] is not None and values[name] not in allowed
        raise TypeError(rule)

    # --- all records -------------------------------------------------------------------------

    def run(self, records: list[dict[str, Any]]) -> ReferenceResult:
        rows = [self.row(i, r) for i, r in enumerate(records)]
        for row in rows:
            if not row.keep:
                row.status = "filtered"
            elif row.rejects:
                row.status = "quarantined"
                row.rule = row.rejects[0][0]
                row.reason = "; ".join(reason for _, reason in row.rejects)
        eligible = [r for r in rows if not r.status]
        groups: dict[tuple, list[_Row]] = {}
        for row in eligible:
            key = tuple(row.sid if k == "_source_id" else row.values[k] for k in self.spec.key)
            if any(k is None for k in key):
                key = ("__unique__", row.index)
            groups.setdefault(key, []).append(row)
        survivors = []
        for members in groups.values():
            winner = max(members, key=_newest)
            for member in members:
                if member is not winner:
                    member.status = "deduplicated"
            survivors.append(winner)
        unique_hits: dict[int, list[tuple[str, str, str]]] = {}
        for index, rule in enumerate(self.spec.rules):
            if not isinstance(rule, UniqueRule):
                continue
            name = self.spec.rule_names()[index]
            by_value: dict[Any, list[_Row]] = {}
            for row in survivors:
                value = row.values[rule.field]
                if value is not None:
                    by_value.setdefault(value, []).append(row)
            for members in by_value.values():
                winner = max(members, key=_newest)
                for member in members:
                    if member is not winner:
                        reason = rule.message or rule_reason(rule)
                        unique_hits.setdefault(member.index, []).append(
                            (name, rule.severity, reason)
                        )
        for row in survivors:
            hits = unique_hits.get(row.index, [])
            rejecting = [h for h in hits if h[1] == "reject"]
            row.warns.extend(h[0] for h in hits if h[1] == "warn")
            if rejecting:
                row.status = "quarantined"
                row.rule = rejecting[0][0]
                row.reason = "; ".join(h[2] for h in rejecting)
            else:
                row.status = "out"
        result = ReferenceResult([], [], rows_in=len(rows))
        warn_names = [
            self.spec.rule_names()[i] for i, r in enumerate(self.spec.rules) if r.severity == "warn"
        ]
        result.warnings_by_rule = {name: 0 for name in warn_names}
        nulling = self.spec.nulling_fields()
        result.nulled_by_field = {name: 0 for name in nulling}
        result.inputs_by_field = {name: 0 for name in nulling}
        warned: list[dict[str, Any]] = []
        for row in rows:
            if row.status == "out":
                out = {"_source_id": _text(row.sid), "_source_updated_at": row.updated}
                out.update(row.values)
                result.rows.append(out)
                for name in row.warns:
                    result.warnings_by_rule[name] += 1
                for name in nulling:
                    failed = row.failures[name]
                    result.nulled_by_field[name] += failed
                    result.inputs_by_field[name] += failed or row.values[name] is not None
                    if failed and self.spec.fields[name].on_error == "warn":
                        warned.append(
                            {
                                "_source_id": _text(row.sid),
                                "rule": f"{name}_invalid",
                                "reason": f"{name}: {failure_reason(self.spec.fields[name])}",
                                "severity": "warn",
                                "field": name,
                                "value": row.originals[name],
                            }
                        )
            elif row.status == "quarantined":
                result.quarantined.append(
                    {
                        "_source_id": _text(row.sid),
                        "rule": row.rule,
                        "reason": row.reason,
                        "severity": "reject",
                        "field": None,
                        "value": None,
                    }
                )
        # the quarantine table's rows: rejected rows, then warnings (on_error: warn)
        result.quarantined.extend(warned)
        counts = {s: sum(1 for r in rows if r.status == s) for s in _STATUSES}
        result.rows_out = counts["out"]
        result.rows_quarantined = counts["quarantined"]
        result.rows_deduplicated = counts["deduplicated"]
        result.rows_filtered = counts["filtered"]
        return result


_STATUSES = ("out", "quarantined", "deduplicated", "filtered")


def _newest(row: _Row) -> tuple:
    """Order of 'newest wins': updated (nulls oldest), then source id, then position."""
    return (
        row.updated is not None,
        row.updated or datetime.min.replace(tzinfo=UTC),
        row.sid,
        row.index,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _text_of(value: Any, category: str) -> str | None:
    """A producer's value as text (what an on_error: warn quarantine row records)."""
    if value is None or category == "null" or not can_convert(category, "string"):
        return None
    text = convert(value, category, DataType("string"))
    return None if text is FAILED else text


def run_reference(
    spec: MappingSpec,
    records: list[dict[str, Any]],
    *,
    types: dict[str, str] | None = None,
    context: FunctionContext | None = None,
) -> ReferenceResult:
    """Apply `spec` to `records` row by row (types of raw columns inferred when not given)."""
    return ReferenceInterpreter(spec, types or infer_types(records), context).run(records)

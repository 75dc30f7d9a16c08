"""Run a mapping inside the warehouse: raw_<provider>_<integration>.<table> -> crm.<target>.

One run: read the source schema, compile the mapping (mappings.compiler), compute the Python
nodes over distinct inputs, materialise the one result query, then in one transaction replace
this mapping's slice of the target (`_source`, `_source_integration`, `_mapping`) and of the
quarantine table. Before committing, the invariant

    rows_in == rows_out + rows_quarantined + rows_deduplicated + rows_filtered

is checked against an independent count of the source and of the rows actually written; if it
does not hold, nothing is written and InvariantViolation is raised. No row is dropped silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import TransformationError, ValidationError
from core.settings import Settings, get_settings
from destinations.warehouse import Warehouse, dataset_name
from mappings.compiler import CompiledMapping, compile_mapping
from mappings.errors import InvariantViolation, MappingCompileError, MappingFileError
from mappings.functions import FunctionContext
from mappings.session import WarehouseSession, category_of_sql_type
from mappings.spec import MappingSpec
from mappings.sqlgen import quote, string_literal

RESULT_TABLE = "__mapping_result"
STAGE_TABLE = "__mapping_stage"
LINEAGE_COLUMNS = (
    ("_source", "string"),
    ("_source_integration", "string"),
    ("_source_id", "string"),
    ("_source_updated_at", "datetime"),
    ("_mapping", "string"),
    ("_loaded_at", "datetime"),
)
QUARANTINE_COLUMNS = (
    ("_source", "string"),
    ("_source_integration", "string"),
    ("_source_id", "string"),
    ("_mapping", "string"),
    ("rule", "string"),
    ("severity", "string"),
    ("reason", "string"),
    ("record", "string"),
    ("_loaded_at", "datetime"),
    ("field", "string"),
    ("value", "string"),
)
# quarantine severities: `reject` rows were kept out of the target; `warn` rows (on_error: warn)
# landed in the target with the field NULL and record the value that failed
REJECT, WARN = "reject", "warn"


@dataclass
class NodeTiming:
    label: str
    distinct_inputs: int
    seconds: float


@dataclass
class MappingRunResult:
    mapping: str
    target_table: str
    quarantine_table: str
    rows_in: int
    rows_out: int
    rows_quarantined: int
    rows_deduplicated: int
    warnings: int
    lineage: dict[str, list[str]]
    seconds: float
    udf_seconds: float
    rows_filtered: int = 0
    integration_id: str = ""
    source_table: str = ""
    warnings_by_rule: dict[str, int] = field(default_factory=dict)
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)
    python_nodes: list[NodeTiming] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # values nulled by conversion, per field with on_error null or warn, over the rows written:
    # a non-null input whose conversion failed, so the target holds NULL (inputs that were
    # already null are not counted)
    nulled_by_field: dict[str, int] = field(default_factory=dict)
    # rows written whose field had a non-null input (converted or nulled): the ratio's base
    inputs_by_field: dict[str, int] = field(default_factory=dict)
    # quarantine rows of severity warn (on_error: warn), per field; rows_quarantined counts
    # only rejected rows
    quarantine_warnings_by_field: dict[str, int] = field(default_factory=dict)

    @property
    def invariant_holds(self) -> bool:
        return self.rows_in == (
            self.rows_out + self.rows_quarantined + self.rows_deduplicated + self.rows_filtered
        )

    @property
    def values_nulled(self) -> int:
        return sum(self.nulled_by_field.values())

    @property
    def quarantine_warnings(self) -> int:
        return sum(self.quarantine_warnings_by_field.values())

    def nulled_ratio(self, name: str) -> float:
        """Share of the field's non-null inputs (in rows written) that conversion nulled."""
        inputs = self.inputs_by_field.get(name, 0)
        return self.nulled_by_field.get(name, 0) / inputs if inputs else 0.0


@dataclass
class PreviewResult:
    mapping: str
    rows: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    counts: MappingRunResult


class MappingEngine:
    """Compiles and runs mappings against one warehouse (DuckDB or Postgres)."""

    def __init__(self, warehouse: Warehouse, settings: Settings | None = None) -> None:
        self.warehouse = warehouse
        self.settings = settings or get_settings()

    def context(self, spec: MappingSpec) -> FunctionContext:
        return FunctionContext(
            phone_region=(spec.settings.phone_region or self.settings.PHONE_DEFAULT_REGION),
            salt=self.settings.SECRET_KEY.get_secret_value(),
        )

    # --- public ------------------------------------------------------------------------------

    def run(self, spec: MappingSpec, *, integration_id: str) -> MappingRunResult:
        """Transform and write this integration's slice of spec.target (and its quarantine)."""
        started = time.perf_counter()
        with self.warehouse.writer_lock():
            session = WarehouseSession(self.warehouse)
            try:
                compiled, result, source = self._compute(session, spec, integration_id, None)
                write_started = time.perf_counter()
                self._write(session, compiled, integration_id, result, source)
                result.stage_seconds["write"] = time.perf_counter() - write_started
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        result.seconds = time.perf_counter() - started
        return result

    def preview(
        self,
        spec: MappingSpec,
        *,
        integration_id: str,
        limit: int = 20,
        sample: int | None = None,
    ) -> PreviewResult:
        """The first `limit` transformed rows and rejects; writes nothing anywhere."""
        started = time.perf_counter()
        read_only = self.warehouse.kind == "duckdb"
        with self.warehouse.writer_lock():
            session = WarehouseSession(self.warehouse, read_only=read_only)
            try:
                compiled, result, source = self._compute(session, spec, integration_id, sample)
                fields = ", ".join(quote(name) for name in spec.fields)
                rows = session.dict_rows(
                    f"SELECT __source_id AS _source_id, __source_updated_at AS "
                    f"_source_updated_at, {fields} FROM {RESULT_TABLE} WHERE __status = 'out' "
                    f"ORDER BY __source_id LIMIT {int(limit)}"
                )
                rejects = session.dict_rows(
                    f"SELECT q.__source_id AS _source_id, q.__rule AS rule, q.__reason AS reason, "
                    f"{session.dialect.record_json('r')} AS record FROM "
                    f"{self._rejects(source, session.dialect)} "
                    f"ORDER BY q.__source_id LIMIT {int(limit)}"
                )
            finally:
                session.rollback()
                session.close()
        result.seconds = time.perf_counter() - started
        return PreviewResult(spec.name, rows, rejects, result)

    def compile(self, spec: MappingSpec, *, integration_id: str) -> CompiledMapping:
        """The compiled query (for inspection and tests); reads only the source schema."""
        session = WarehouseSession(self.warehouse, read_only=self.warehouse.kind == "duckdb")
        try:
            dataset = dataset_name(spec.source.provider, integration_id)
            schema = self._schema(session, spec, dataset, integration_id)
            return compile_mapping(spec, schema, session.dialect, self.context(spec))
        finally:
            session.close()

    # --- steps -------------------------------------------------------------------------------

    def _schema(self, session: WarehouseSession, spec: MappingSpec, dataset: str, integration_id):
        schema = session.source_schema(dataset, spec.source.table)
        if schema is None:
            raise ValidationError(
                f"raw table {dataset}.{spec.source.table} does not exist",
                provider=spec.source.provider,
                integration_id=integration_id,
                hint="run a sync of this integration first",
            )
        return schema

    def _compute(
        self,
        session: WarehouseSession,
        spec: MappingSpec,
        integration_id: str,
        sample: int | None,
    ) -> tuple[CompiledMapping, MappingRunResult, str]:
        stages: dict[str, float] = {}
        clock = time.perf_counter()
        dataset = dataset_name(spec.source.provider, integration_id)
        schema = self._schema(session, spec, dataset, integration_id)
        session.set_salt(self.settings.SECRET_KEY.get_secret_value())
        compiled = compile_mapping(
            spec,
            schema,
            session.dialect,
            self.context(spec),
            sample=sample,
            unique_source_ids=self._unique_ids(session, spec, schema),
        )
        stages["compile"] = time.perf_counter() - clock

        if compiled.frame.stage_boundary() is not None:
            clock = time.perf_counter()
            session.execute(compiled.frame.stage_sql(STAGE_TABLE, compiled.outputs))
            compiled.frame.use_stage(STAGE_TABLE)
            stages["stage"] = time.perf_counter() - clock

        clock = time.perf_counter()
        timings, udf_seconds = self._run_nodes(session, compiled)
        stages["python_nodes"] = time.perf_counter() - clock

        clock = time.perf_counter()
        session.begin()
        session.execute(f"CREATE TEMP TABLE {RESULT_TABLE} AS {compiled.result_sql()}")
        stages["query"] = time.perf_counter() - clock
        session.drop_lookups()

        counts = dict(
            session.rows(f"SELECT __status, COUNT(*) FROM {RESULT_TABLE} GROUP BY __status")
        )
        if sample:
            rows_in = session.rows(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {schema.relation} LIMIT {int(sample)}) s"
            )[0][0]
        else:
            rows_in = session.rows(f"SELECT COUNT(*) FROM {schema.relation}")[0][0]
        warnings_by_rule: dict[str, int] = {}
        if compiled.warnings:
            sums = ", ".join(
                f"SUM(CASE WHEN __warn_{i} THEN 1 ELSE 0 END)"
                for i in range(len(compiled.warnings))
            )
            totals = session.rows(f"SELECT {sums} FROM {RESULT_TABLE} WHERE __status = 'out'")[0]
            warnings_by_rule = {
                check.name: int(total or 0)
                for check, total in zip(compiled.warnings, totals, strict=True)
            }
        rejected_by_rule = {
            rule: int(n)
            for rule, n in session.rows(
                f"SELECT __rule, COUNT(*) FROM {RESULT_TABLE} "
                "WHERE __status = 'quarantined' GROUP BY __rule"
            )
        }
        nulled_by_field, inputs_by_field = self._nulled(session, compiled)
        result = MappingRunResult(
            mapping=spec.name,
            target_table=spec.target,
            quarantine_table=spec.quarantine_table,
            rows_in=int(rows_in),
            rows_out=int(counts.get("out", 0)),
            rows_quarantined=int(counts.get("quarantined", 0)),
            rows_deduplicated=int(counts.get("deduplicated", 0)),
            rows_filtered=int(counts.get("filtered", 0)),
            warnings=sum(warnings_by_rule.values()),
            warnings_by_rule=warnings_by_rule,
            rejected_by_rule=rejected_by_rule,
            lineage=compiled.lineage,
            seconds=0.0,
            udf_seconds=udf_seconds,
            integration_id=integration_id,
            source_table=f"{dataset}.{spec.source.table}",
            missing_columns=compiled.missing_columns,
            python_nodes=timings,
            stage_seconds=stages,
            nulled_by_field=nulled_by_field,
            inputs_by_field=inputs_by_field,
            quarantine_warnings_by_field={
                n.name: nulled_by_field[n.name] for n in compiled.nulling if n.on_error == WARN
            },
        )
        unknown = set(counts) - {"out", "quarantined", "deduplicated", "filtered"}
        if unknown or not result.invariant_holds:
            raise InvariantViolation(
                f"mapping {spec.name}: rows_in {result.rows_in} != out {result.rows_out} + "
                f"quarantined {result.rows_quarantined} + deduplicated "
                f"{result.rows_deduplicated} + filtered {result.rows_filtered}",
                integration_id=integration_id,
                hint="nothing was written; this is a bug in the mapping engine",
            )
        return compiled, result, schema.relation

    @staticmethod
    def _nulled(
        session: WarehouseSession, compiled: CompiledMapping
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(values nulled by conversion, non-null inputs) per nulling field, over rows out."""
        if not compiled.nulling:
            return {}, {}
        sums = []
        for n in compiled.nulling:
            sums.append(f"SUM(CASE WHEN {n.nulled_column} THEN 1 ELSE 0 END)")
            sums.append(
                f"SUM(CASE WHEN {n.nulled_column} OR {quote(n.name)} IS NOT NULL THEN 1 ELSE 0 END)"
            )
        totals = session.rows(
            f"SELECT {', '.join(sums)} FROM {RESULT_TABLE} WHERE __status = 'out'"
        )[0]
        nulled = {n.name: int(totals[2 * i] or 0) for i, n in enumerate(compiled.nulling)}
        inputs = {n.name: int(totals[2 * i + 1] or 0) for i, n in enumerate(compiled.nulling)}
        return nulled, inputs

    def _unique_ids(self, session: WarehouseSession, spec: MappingSpec, schema) -> bool:
        """Whether no two source rows share an id (raw tables are merged on id, so usually)."""
        if spec.key != ["_source_id"]:
            return False
        column = schema.find(spec.source.id)
        if column is None:
            return False
        name = quote(column.name)
        counts = session.rows(
            f"SELECT COUNT({name}), COUNT(DISTINCT {name}) FROM {schema.relation}"
        )
        return counts[0][0] == counts[0][1]

    def _run_nodes(
        self, session: WarehouseSession, compiled: CompiledMapping
    ) -> tuple[list[NodeTiming], float]:
        """Compute every Python node over its distinct inputs and register its lookup.

        DuckDB reads the inputs of all independent nodes in one pass (one aggregate query per
        wave of nodes); Postgres reads them node by node."""
        timings: list[NodeTiming] = []
        total = 0.0
        frame = compiled.frame
        if session.dialect.name == "duckdb":
            # every lookup exists (empty) from the start: a wave's query may join lookups of
            # later waves that sit in lower layers, without reading them
            for node in frame.nodes:
                session.register_placeholder(node.relation, node.key.category, node.output_category)
            for wave in frame.waves():
                batches = session.batch_inputs(frame.batch_inputs_sql(wave), wave)
                for node, (keys, inputs) in zip(wave, batches, strict=True):
                    seconds = self._evaluate(session, compiled, node, keys, inputs)
                    total += seconds
                    timings.append(NodeTiming(node.label, len(inputs), seconds))
            return timings, total
        for node in sorted(frame.nodes, key=lambda n: n.layer):  # lower lookups exist first
            keys, inputs = session.distinct_inputs(frame.distinct_inputs_sql(node))
            seconds = self._evaluate(session, compiled, node, keys, inputs)
            total += seconds
            timings.append(NodeTiming(node.label, len(inputs), seconds))
        return timings, total

    def _evaluate(self, session, compiled: CompiledMapping, node, keys, inputs) -> float:
        clock = time.perf_counter()
        try:
            values, failed = node.evaluate(inputs) if inputs else ([], [])
        except MappingFileError:
            raise  # a template past a resource limit: file:line: field: message, as it is
        except Exception as exc:
            raise TransformationError(
                f"mapping {compiled.spec.name}: {node.label} raised {type(exc).__name__}: {exc}",
                hint="a custom function must not raise; mark failures instead",
            ) from exc
        seconds = time.perf_counter() - clock
        try:
            session.register_lookup(
                node.relation, keys, node.key.category, values, node.output_category, failed
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise TransformationError(
                f"mapping {compiled.spec.name}: {node.label} returned values that are not "
                f"{node.output_category}: {exc}"
            ) from exc
        return seconds

    # --- writing -----------------------------------------------------------------------------

    def _write(
        self,
        session: WarehouseSession,
        compiled: CompiledMapping,
        integration_id: str,
        result: MappingRunResult,
        source_relation: str,
    ) -> None:
        spec = compiled.spec
        d = session.dialect
        schema, table = spec.target_schema, spec.target_table
        quarantine = f"{table}_quarantine"
        if d.name == "postgres":
            session.rows(f"SELECT pg_advisory_xact_lock(hashtext({string_literal(spec.target)}))")
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        target_columns = [
            (name, d.category_type(category)) for name, category in LINEAGE_COLUMNS
        ] + [(name, d.sql_type(f.data_type)) for name, f in spec.fields.items()]
        self._ensure_table(session, spec, schema, table, target_columns)
        self._ensure_table(
            session,
            spec,
            schema,
            quarantine,
            [(name, d.category_type(category)) for name, category in QUARANTINE_COLUMNS],
        )
        loaded_at = d.literal(datetime.now(UTC), "datetime")
        source = string_literal(spec.source.provider)
        integration = string_literal(integration_id)
        mapping = string_literal(spec.name)
        slice_sql = (
            f"_source = {source} AND _source_integration = {integration} AND _mapping = {mapping}"
        )
        target = f"{quote(schema)}.{quote(table)}"
        quarantine_rel = f"{quote(schema)}.{quote(quarantine)}"
        fields = [quote(name) for name in spec.fields]
        session.execute(f"DELETE FROM {target} WHERE {slice_sql}")
        session.execute(
            f"INSERT INTO {target} (_source, _source_integration, _source_id, "
            f"_source_updated_at, _mapping, _loaded_at, {', '.join(fields)}) "
            f"SELECT {source}, {integration}, __source_id, __source_updated_at, {mapping}, "
            f"{loaded_at}, {', '.join(fields)} FROM {RESULT_TABLE} WHERE __status = 'out'"
        )
        session.execute(f"DELETE FROM {quarantine_rel} WHERE {slice_sql}")
        session.execute(
            f"INSERT INTO {quarantine_rel} (_source, _source_integration, _source_id, _mapping, "
            f"rule, severity, reason, record, _loaded_at) SELECT {source}, {integration}, "
            f"q.__source_id, {mapping}, q.__rule, '{REJECT}', q.__reason, "
            f"{d.record_json('r')}, {loaded_at} FROM {self._rejects(source_relation, d)}"
        )
        for nulled in compiled.nulling:
            if nulled.on_error != WARN:
                continue
            # the row landed in the target with the field NULL: record what failed
            session.execute(
                f"INSERT INTO {quarantine_rel} (_source, _source_integration, _source_id, "
                f"_mapping, rule, severity, reason, record, _loaded_at, field, value) SELECT "
                f"{source}, {integration}, q.__source_id, {mapping}, "
                f"{string_literal(nulled.rule)}, '{WARN}', {string_literal(nulled.reason)}, "
                f"{d.record_json('r')}, {loaded_at}, {string_literal(nulled.name)}, "
                f"q.{nulled.original_column} FROM {RESULT_TABLE} AS q JOIN {source_relation} "
                f"AS r ON {d.row_locator('r')} = q.__ordinal "
                f"WHERE q.__status = 'out' AND q.{nulled.nulled_column}"
            )
        written = session.rows(f"SELECT COUNT(*) FROM {target} WHERE {slice_sql}")[0][0]
        quarantined, warned = session.rows(
            f"SELECT COUNT(CASE WHEN severity = '{REJECT}' THEN 1 END), "
            f"COUNT(CASE WHEN severity = '{WARN}' THEN 1 END) "
            f"FROM {quarantine_rel} WHERE {slice_sql}"
        )[0]
        if (
            written != result.rows_out
            or quarantined != result.rows_quarantined
            or warned != result.quarantine_warnings
        ):
            raise InvariantViolation(
                f"mapping {spec.name}: wrote {written} rows, {quarantined} rejected and "
                f"{warned} warning quarantine rows, expected {result.rows_out}, "
                f"{result.rows_quarantined} and {result.quarantine_warnings}",
                integration_id=integration_id,
                hint="nothing was written (rolled back)",
            )

    @staticmethod
    def _rejects(source_relation: str, d) -> str:
        """Quarantined result rows joined back to their raw record (for the `record` column)."""
        return (
            f"{RESULT_TABLE} AS q JOIN {source_relation} AS r ON {d.row_locator('r')} = "
            "q.__ordinal WHERE q.__status = 'quarantined'"
        )

    def _ensure_table(
        self,
        session: WarehouseSession,
        spec: MappingSpec,
        schema: str,
        table: str,
        columns: list[tuple[str, str]],
    ) -> None:
        existing = session.columns(schema, table)
        if not existing:
            body = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in columns)
            session.execute(f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} ({body})")
            return
        for name, sql_type in columns:
            if name not in existing:
                session.execute(
                    f"ALTER TABLE {quote(schema)}.{quote(table)} ADD COLUMN {quote(name)} "
                    f"{sql_type}"
                )
                continue
            have, _ = category_of_sql_type(existing[name])
            want, _ = category_of_sql_type(sql_type)
            if have != want:
                raise MappingCompileError(
                    f"{spec.path}: {schema}.{table}.{name} is {existing[name]} in the "
                    f"warehouse, mapping {spec.name} writes {sql_type}",
                    hint="give the field the canonical model's type, or rename it",
                )

"""Cross-source dedup (entity resolution) of one canonical model, inside the warehouse.

Phases (each timed in `DedupResult.phase_seconds`):

1. stage      - read `crm.<model>` (all sources), collapse duplicate member keys (newest
                `_source_updated_at` wins: the mapping engine already does this per source, but
                this engine must not trust it), number the records, compute match keys.
2. exact      - one edge per record to the smallest record sharing its key, per exact rule.
3. fuzzy      - blocked fuzzy comparisons in Python (rapidfuzz); edges go back to SQL.
   probabilistic - candidate pairs scored by a trained Fellegi-Sunter model (Splink, on the
                same connection); pairs at or above the rule's threshold become edges with
                their match weight and probability (see probabilistic.py).
4. components - connected components (union-find over Arrow, or SQL label propagation).
5. ids        - stable golden ids from the previous crosswalk (see golden_ids.py).
6. write      - golden records (survivorship), crosswalk and id events, in one transaction.

The engine never edits the canonical table and replaces its own outputs atomically; a failed
run leaves the previous golden tables in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa

from core.clock import clock
from core.errors import ValidationError
from destinations.warehouse import Warehouse
from mappings.dedup import probabilistic, sqlgen
from mappings.dedup.components import components_python, components_sql
from mappings.dedup.fuzzy import block_pairs
from mappings.dedup.golden_ids import IdStats, assign_golden_ids
from mappings.dedup.rules import ExactRule, FuzzyRule, MatchRules, ProbabilisticRule
from mappings.dedup.session import DedupSession, DuckDBOptions

LINEAGE = ("_source", "_source_integration", "_source_id", "_source_updated_at")
ComponentsMethod = Literal["auto", "python", "sql"]


class DedupError(ValidationError):
    """The canonical table cannot be deduplicated as declared (missing table or columns, a
    record without a source id): nothing was written."""


@dataclass
class RuleStats:
    """What one rule contributed: edges (records linked to another), and what it skipped."""

    rule: str
    type: str
    edges: int = 0
    skipped_groups: int = 0
    skipped_records: int = 0
    comparisons: int = 0


@dataclass
class DedupResult:
    model: str
    source_table: str
    golden_table: str
    crosswalk_table: str
    merges_table: str
    rows_in: int
    duplicate_rows: int
    records: int
    clusters: int
    multi_record_clusters: int
    golden_rows: int
    crosswalk_rows: int
    ids: IdStats
    rules: list[RuleStats]
    components_method: str
    components_passes: int
    phase_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    memory_limit: str | None = None
    golden_columns: list[str] = field(default_factory=list)
    # Files written beside the run (probabilistic rules' match-weight and m/u charts):
    # "<rule>.<chart>_<html|png>" -> path.
    artefacts: dict[str, Path] = field(default_factory=dict)


class DedupEngine:
    """Runs match rules against a warehouse: `DedupEngine(warehouse).run(rules)`."""

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        components: ComponentsMethod = "auto",
        duckdb_options: DuckDBOptions | None = None,
        artefacts_dir: Path | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.components = components
        self.duckdb_options = duckdb_options
        # Where probabilistic rules' model charts go (None: not written).
        self.artefacts_dir = artefacts_dir

    def run(self, rules: MatchRules) -> DedupResult:
        with DedupSession.open(self.warehouse, self.duckdb_options) as session:
            _require_backend(session, rules)
            result = _Run(session, rules, self._method(session)).execute()
        if self.artefacts_dir is not None:
            result.artefacts = model_charts(rules, self.artefacts_dir)
        return result

    def train(
        self, rules: MatchRules, rule_name: str | None = None, charts_dir: Path | None = None
    ) -> list[probabilistic.TrainedModel]:
        """Train the probabilistic rules of `rules` (or only `rule_name`) on the canonical
        table as it is now and write their model files; returns what was trained."""
        targets = [
            (i, r)
            for i, r in enumerate(rules.rules)
            if isinstance(r, ProbabilisticRule) and rule_name in (None, r.name)
        ]
        if not targets:
            wanted = f" named {rule_name!r}" if rule_name else ""
            raise DedupError(f"{rules.model}: the match rules have no probabilistic rule{wanted}")
        with DedupSession.open(self.warehouse, self.duckdb_options) as session:
            _require_backend(session, rules)
            run = _Run(session, rules, self._method(session))
            run._stage()
            try:
                return [
                    probabilistic.train(session, rules, i, rule, charts_dir) for i, rule in targets
                ]
            finally:
                run._drop_temps()

    def _method(self, session: DedupSession) -> str:
        if self.components != "auto":
            return self.components
        # Measured (bench/entity_resolution.py): on DuckDB the Python union-find beats SQL
        # passes; on Postgres moving the pairs out costs more than the passes.
        return "python" if session.dialect == "duckdb" else "sql"


def _require_backend(session: DedupSession, rules: MatchRules) -> None:
    for rule in rules.probabilistic_rules():
        try:
            probabilistic.require_duckdb(session, rule)
        except probabilistic.ProbabilisticUnsupported as exc:
            raise DedupError(f"{rules.model}: {exc}") from None


def model_charts(rules: MatchRules, out_dir: Path) -> dict[str, Path]:
    """Each probabilistic rule's match-weight and m/u charts under `out_dir/<model>/`,
    redrawn only when the model file is newer than them."""
    written: dict[str, Path] = {}
    for rule in rules.probabilistic_rules():
        model = rules.model_path(rule)
        target = out_dir / rules.model
        names = {
            f"{name}_{kind}": target / f"{rule.name}.{name}.{kind}"
            for name in probabilistic.CHARTS
            for kind in ("html", "png")
        }
        fresh = all(
            p.exists() and p.stat().st_mtime >= model.stat().st_mtime for p in names.values()
        )
        charts = names if fresh else probabilistic.write_charts(model, target, rule)
        written.update({f"{rule.name}.{k}": v for k, v in charts.items()})
    return written


class _Run:
    """One run's state; phases in order, each a method."""

    def __init__(self, session: DedupSession, rules: MatchRules, method: str) -> None:
        self.s = session
        self.rules = rules
        self.method = method
        self.phases: dict[str, float] = {}
        self.rule_stats = [RuleStats(r.name, r.type) for r in rules.rules]
        self.run_at: datetime = clock.now()

    def _timed(self, name: str, fn, *args):
        started = time.perf_counter()
        out = fn(*args)
        self.phases[name] = round(time.perf_counter() - started, 3)
        return out

    @property
    def run_at_sql(self) -> str:
        return f"CAST('{self.run_at.isoformat()}' AS TIMESTAMPTZ)"

    def execute(self) -> DedupResult:
        started = time.perf_counter()
        rows_in, fields = self._timed("stage", self._stage)
        self._timed("exact", self._exact_edges)
        self._timed("fuzzy", self._fuzzy_edges)
        if self.rules.probabilistic_rules():
            self._timed("probabilistic", self._probabilistic_edges)
        passes = self._timed("components", self._components)
        ids = self._timed("ids", assign_golden_ids, self.s, self.rules, self.run_at_sql)
        records = int(self.s.scalar("SELECT COUNT(*) FROM er_records"))
        clusters = int(self.s.scalar("SELECT COUNT(*) FROM er_ids"))
        multi = int(self.s.scalar("SELECT COUNT(DISTINCT label) FROM er_label"))
        golden_rows, crosswalk_rows = self._timed("write", self._write, fields, records, clusters)
        self._drop_temps()
        return DedupResult(
            model=self.rules.model,
            source_table=self.rules.source,
            golden_table=self.rules.golden,
            crosswalk_table=self.rules.crosswalk,
            merges_table=self.rules.merges,
            rows_in=rows_in,
            duplicate_rows=rows_in - records,
            records=records,
            clusters=clusters,
            multi_record_clusters=multi,
            golden_rows=golden_rows,
            crosswalk_rows=crosswalk_rows,
            ids=ids,
            rules=self.rule_stats,
            components_method=self.method,
            components_passes=passes,
            phase_seconds=self.phases,
            seconds=round(time.perf_counter() - started, 3),
            memory_limit=self.s.setting("memory_limit"),
            golden_columns=["golden_id", *fields],
        )

    # --- 1. stage -------------------------------------------------------------------------
    def _stage(self) -> tuple[int, list[str]]:
        source = self.rules.source
        if not self.s.table_exists(source):
            raise DedupError(
                f"{source} does not exist", hint="run the mappings that target it first"
            )
        columns = [c for c, _ in self.s.columns(source)]
        missing = [
            c for c in (*LINEAGE, *sorted(self.rules.referenced_fields())) if c not in columns
        ]
        if missing:
            raise DedupError(
                f"{source} lacks columns {', '.join(missing)} that the match rules of "
                f"{self.rules.model!r} need"
            )
        t, c = self.s.text_type, self.s.collate
        member = f"_source, COALESCE(_source_integration, ''), CAST(_source_id AS {t})"
        rows_in, nulls, distinct = self.s.rows(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE _source IS NULL OR _source_id IS NULL), "
            f"COUNT(DISTINCT ({member})) FROM {source}"
        )[0]
        if nulls:
            raise DedupError(
                f"{source} has {nulls} rows without _source or _source_id; they cannot be "
                "tracked in a crosswalk",
                hint="fix the mapping's key",
            )
        excluded = set(self.rules.exclude_fields)
        fields = [c for c in columns if not c.startswith("_") and c not in excluded]
        if "golden_id" in fields:
            raise DedupError(
                f"{source} has a column golden_id, which the golden table reserves",
                hint="rename it in the mapping or list it under exclude_fields",
            )
        keys = []
        for i, rule in enumerate(self.rules.rules):
            if isinstance(rule, ExactRule):
                keys.append(f"{sqlgen.exact_key(rule, t)} AS _k{i}")
            elif isinstance(rule, ProbabilisticRule):
                # compared in the probabilistic phase from the staged columns
                for item in probabilistic.stage_columns(rule, set(fields), set(columns)):
                    if item not in keys:
                        keys.append(item)
            else:
                keys.append(f"{sqlgen.block_key(rule, t)} AS _b{i}")
                keys.append(f"{sqlgen.compare_text(rule, t)} AS _t{i}")
        data = ", ".join(sqlgen.quote(f) for f in fields)
        projected = (
            f"SELECT {data + ', ' if data else ''}_source, "
            "COALESCE(_source_integration, '') AS _source_integration, "
            f"CAST(_source_id AS {t}) AS _source_id, _source_updated_at"
        )
        if distinct == rows_in:
            records = f"({projected} FROM {source})"
        else:
            # Duplicate member keys: keep the newest (the window costs a sort, so only then).
            tiebreak = "_loaded_at DESC NULLS LAST, " if "_loaded_at" in columns else ""
            loaded = ", _loaded_at" if tiebreak else ""
            records = (
                f"(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY _source, "
                "_source_integration, _source_id ORDER BY _source_updated_at DESC NULLS LAST, "
                f"{tiebreak}_source_id) AS _dup FROM ({projected}{loaded} FROM {source}) p) d "
                "WHERE _dup = 1)"
            )
        self.s.execute("DROP TABLE IF EXISTS er_records")
        self.s.execute(
            "CREATE TEMP TABLE er_records AS SELECT "
            f"row_number() OVER (ORDER BY _source{c}, _source_integration{c}, _source_id{c}) "
            "AS _rid, row_number() OVER (ORDER BY _source_updated_at NULLS FIRST, "
            f"_source{c}, _source_integration{c}, _source_id{c}) AS _rec_rank, "
            "_source, _source_integration, _source_id, _source_updated_at"
            f"{', ' + data if data else ''}{', ' + ', '.join(keys) if keys else ''} "
            f"FROM {records} r"
        )
        return int(rows_in), fields

    # --- 2. exact edges -------------------------------------------------------------------
    def _exact_edges(self) -> None:
        self.s.execute("DROP TABLE IF EXISTS er_edges")
        self.s.execute(
            "CREATE TEMP TABLE er_edges (rid BIGINT, root BIGINT, rule_idx INTEGER, "
            "match_weight DOUBLE PRECISION, match_probability DOUBLE PRECISION)"
        )
        for i, rule in enumerate(self.rules.rules):
            if not isinstance(rule, ExactRule):
                continue
            cap = f" AND n <= {rule.max_group_size}" if rule.max_group_size else ""
            # Each record links to the smallest record sharing its key (a star per key, so
            # edges stay linear in the records); the root's self-edge records its rule.
            self.s.execute(
                f"INSERT INTO er_edges (rid, root, rule_idx) SELECT _rid, root, {i} FROM (SELECT _rid, "
                f"MIN(_rid) OVER (PARTITION BY _k{i}) AS root, "
                f"COUNT(*) OVER (PARTITION BY _k{i}) AS n FROM er_records "
                f"WHERE _k{i} IS NOT NULL) t WHERE n >= 2{cap}"
            )
            stats = self.rule_stats[i]
            stats.edges = int(
                self.s.scalar(f"SELECT COUNT(*) FROM er_edges WHERE rule_idx = {i} AND rid <> root")
            )
            if rule.max_group_size:
                skipped = self.s.rows(
                    f"SELECT COUNT(*), COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n "
                    f"FROM er_records WHERE _k{i} IS NOT NULL GROUP BY _k{i}) g "
                    f"WHERE n > {rule.max_group_size}"
                )[0]
                stats.skipped_groups, stats.skipped_records = int(skipped[0]), int(skipped[1])

    # --- 3. fuzzy edges -------------------------------------------------------------------
    def _fuzzy_edges(self) -> None:
        for i, rule in enumerate(self.rules.rules):
            if not isinstance(rule, FuzzyRule):
                continue
            sized = (
                f"SELECT _rid AS rid, _b{i} AS block, _t{i} AS text, COUNT(*) OVER (PARTITION BY _b{i}) "
                f"AS n FROM er_records WHERE _b{i} IS NOT NULL AND _t{i} IS NOT NULL"
            )
            candidates = self.s.arrow(
                f"SELECT rid, block, text FROM ({sized}) t "
                f"WHERE n BETWEEN 2 AND {rule.max_block_size} ORDER BY block, rid"
            )
            left, right, fstats = block_pairs(
                candidates.column("rid").to_pylist(),
                candidates.column("block").to_pylist(),
                candidates.column("text").to_pylist(),
                scorer=rule.scorer,
                threshold=rule.threshold,
            )
            stats = self.rule_stats[i]
            stats.edges, stats.comparisons = fstats.pairs, fstats.comparisons
            skipped = self.s.rows(
                f"SELECT COUNT(DISTINCT block), COUNT(*) FROM ({sized}) t "
                f"WHERE n > {rule.max_block_size}"
            )[0]
            stats.skipped_groups, stats.skipped_records = int(skipped[0]), int(skipped[1])
            if left:
                pairs = pa.table({"rid": pa.array(right, pa.int64()), "root": left})
                self.s.create_temp_from_arrow("er_fuzzy", pairs, "rid BIGINT, root BIGINT")
                self.s.execute(
                    f"INSERT INTO er_edges (rid, root, rule_idx) SELECT rid, root, {i} FROM er_fuzzy"
                )
                self.s.execute("DROP TABLE er_fuzzy")

    # --- 3b. probabilistic edges ---------------------------------------------------------
    def _probabilistic_edges(self) -> None:
        for i, rule in enumerate(self.rules.rules):
            if not isinstance(rule, ProbabilisticRule):
                continue
            scored = probabilistic.score_edges(self.s, self.rules, i, rule)
            stats = self.rule_stats[i]
            stats.edges = scored.edges
            stats.skipped_groups, stats.skipped_records = (
                scored.skipped_groups,
                scored.skipped_records,
            )

    # --- 4. components --------------------------------------------------------------------
    def _components(self) -> int:
        passes = components_python(self.s) if self.method == "python" else components_sql(self.s)
        self.s.execute("DROP TABLE IF EXISTS er_members")
        self.s.execute(
            "CREATE TEMP TABLE er_members AS SELECT r._rid AS rid, COALESCE(l.label, r._rid) "
            "AS cluster FROM er_records r LEFT JOIN er_label l ON l.rid = r._rid"
        )
        return passes

    # --- 6. write -------------------------------------------------------------------------
    def _write(self, fields: list[str], records: int, clusters: int) -> tuple[int, int]:
        """Replace golden and crosswalk, append id events; commit only if every record has one
        crosswalk row and every cluster one golden row. Returns (golden rows, crosswalk rows)."""
        rules, s = self.rules, self.s
        aggregates = [
            f"{sqlgen.survivor(f, rules.survivorship.for_field(f), s.dialect, 'r')} AS "
            f"{sqlgen.quote(f)}"
            for f in fields
        ]
        rule_names = " ".join(
            f"WHEN {i} THEN {sqlgen.literal(r.name)}" for i, r in enumerate(rules.rules)
        )
        for qualified in (rules.golden, rules.crosswalk, rules.merges):
            s.ensure_schema(qualified)
        t = s.text_type
        with s.transaction():
            s.execute(f"DROP TABLE IF EXISTS {rules.golden}")
            s.execute(
                f"CREATE TABLE {rules.golden} AS SELECT i.golden_id, "
                f"{''.join(a + ', ' for a in aggregates)}"
                "COUNT(DISTINCT r._source) AS _sources, COUNT(*) AS _records, "
                "MAX(r._source_updated_at) AS _updated_at, MIN(i.id_created_at) AS _created_at, "
                f"{self.run_at_sql} AS _loaded_at FROM er_records r "
                "JOIN er_members m ON m.rid = r._rid JOIN er_ids i ON i.cluster = m.cluster "
                "GROUP BY i.golden_id"
            )
            s.execute(f"DROP TABLE IF EXISTS {rules.crosswalk}")
            s.execute(
                f"CREATE TABLE {rules.crosswalk} AS SELECT i.golden_id, r._source, "
                "r._source_integration, r._source_id, "
                f"CAST(CASE h.rule_idx {rule_names} END AS {t}) AS match_rule, "
                # a probabilistic rule's strongest edge at this record (NULL for other rules)
                "w.match_weight, w.match_probability, "
                f"r._source_updated_at, {self.run_at_sql} AS _loaded_at FROM er_records r "
                "JOIN er_members m ON m.rid = r._rid JOIN er_ids i ON i.cluster = m.cluster "
                "LEFT JOIN (SELECT rid, MIN(rule_idx) AS rule_idx FROM (SELECT rid, rule_idx "
                "FROM er_edges UNION ALL SELECT root, rule_idx FROM er_edges) e GROUP BY rid) h "
                "ON h.rid = r._rid LEFT JOIN (SELECT rid, rule_idx, MAX(match_weight) AS "
                "match_weight, MAX(match_probability) AS match_probability FROM (SELECT rid, "
                "rule_idx, match_weight, match_probability FROM er_edges WHERE match_weight IS "
                "NOT NULL UNION ALL SELECT root, rule_idx, match_weight, match_probability FROM "
                "er_edges WHERE match_weight IS NOT NULL) e GROUP BY rid, rule_idx) w "
                "ON w.rid = r._rid AND w.rule_idx = h.rule_idx"
            )
            s.execute(
                f"CREATE TABLE IF NOT EXISTS {rules.merges} (previous_id {t}, golden_id {t}, "
                f"reason {t}, recorded_at TIMESTAMPTZ)"
            )
            s.execute(
                f"INSERT INTO {rules.merges} SELECT previous_id, golden_id, reason, "
                f"{self.run_at_sql} FROM er_events"
            )
            golden_rows = int(s.scalar(f"SELECT COUNT(*) FROM {rules.golden}"))
            crosswalk_rows = int(s.scalar(f"SELECT COUNT(*) FROM {rules.crosswalk}"))
            if crosswalk_rows != records or golden_rows != clusters:
                raise DedupError(
                    f"{rules.model}: {records} records gave {crosswalk_rows} crosswalk rows and "
                    f"{clusters} clusters gave {golden_rows} golden rows; nothing was written"
                )
        return golden_rows, crosswalk_rows

    def _drop_temps(self) -> None:
        for name in [
            "er_records",
            "er_edges",
            "er_label",
            "er_members",
            "er_votes",
            "er_heirs",
            "er_kept",
            "er_new",
            "er_used",
            "er_ids",
            "er_events",
        ]:
            self.s.execute(f"DROP TABLE IF EXISTS {name}")

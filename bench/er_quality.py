"""Entity-resolution quality for the benchmarks: pairwise precision, recall and F1 of a
clustering against the ground truth, our engine and Splink on their own (each in a child
process measured by `bench.common.measure_in_child`), and the table both ER benchmarks print.

Pairwise metrics count pairs of records, never enumerate them: with `n` records of a group,
the group holds n(n-1)/2 pairs, so

- predicted pairs = sum over predicted clusters,
- true pairs = sum over true entities,
- true positives = sum over (cluster, entity) groups: pairs in the same cluster AND the same
  entity,

each one GROUP BY in DuckDB, linear in the records. Never used by product code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Quality:
    """Pairwise quality of one clustering. With no predicted pair precision is 1.0 (nothing
    claimed, nothing wrong); with no true pair recall is 1.0."""

    records: int
    predicted_pairs: int
    true_pairs: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positives(self) -> int:
        return self.predicted_pairs - self.true_positives

    @property
    def false_negatives(self) -> int:
        return self.true_pairs - self.true_positives

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


class QualityError(ValueError):
    """The clustering and the truth do not cover the same records."""


def pairwise_quality(conn: Any, predicted: str, truth: str) -> Quality:
    """Quality of `predicted` (a relation with columns record_id, cluster_id) against `truth`
    (record_id, entity_id), computed in DuckDB on `conn`. Both must name every record exactly
    once (a record missing from either side would silently drop its pairs): QualityError."""
    conn.execute(f"""
        CREATE OR REPLACE TEMP TABLE er_quality_joined AS
        SELECT p.record_id, p.cluster_id, t.entity_id
        FROM ({predicted}) p FULL OUTER JOIN ({truth}) t ON p.record_id = t.record_id
    """)
    try:
        missing_truth, missing_cluster, null_ids, rows, distinct = conn.execute("""
            SELECT COUNT(*) FILTER (WHERE entity_id IS NULL),
                   COUNT(*) FILTER (WHERE cluster_id IS NULL),
                   COUNT(*) FILTER (WHERE record_id IS NULL),
                   COUNT(*), COUNT(DISTINCT record_id)
            FROM er_quality_joined
        """).fetchone()
        problems = []
        if missing_truth:
            problems.append(f"{missing_truth:,} clustered records have no true entity")
        if missing_cluster:
            problems.append(f"{missing_cluster:,} records have no cluster")
        if null_ids:
            problems.append(f"{null_ids:,} rows without a record id")
        if rows - null_ids != distinct:
            problems.append(f"{rows - null_ids - distinct:,} record ids appear more than once")
        if problems:
            raise QualityError("; ".join(problems))
        pred, true, tp = conn.execute("""
            SELECT
              (SELECT COALESCE(SUM(n * (n - 1) // 2), 0) FROM
                 (SELECT COUNT(*)::HUGEINT AS n FROM er_quality_joined GROUP BY cluster_id)),
              (SELECT COALESCE(SUM(n * (n - 1) // 2), 0) FROM
                 (SELECT COUNT(*)::HUGEINT AS n FROM er_quality_joined GROUP BY entity_id)),
              (SELECT COALESCE(SUM(n * (n - 1) // 2), 0) FROM
                 (SELECT COUNT(*)::HUGEINT AS n FROM er_quality_joined
                  GROUP BY cluster_id, entity_id))
        """).fetchone()
    finally:
        conn.execute("DROP TABLE IF EXISTS er_quality_joined")
    return Quality(
        records=int(rows), predicted_pairs=int(pred), true_pairs=int(true), true_positives=int(tp)
    )


def quality_of(db_path: str, clusters_sql: str) -> Quality:
    """Quality of `clusters_sql` against the benchmark's `bench_truth` table in the DuckDB file
    at `db_path` (both benchmarks' generators write their truth there), read-only."""
    import duckdb

    conn = duckdb.connect(db_path, read_only=True)
    try:
        return pairwise_quality(conn, clusters_sql, "SELECT record_id, entity_id FROM bench_truth")
    finally:
        conn.close()


# --- our engine ------------------------------------------------------------------------------


def run_engine(
    db_path: str,
    rules_path: str,
    memory_limit: str = "2GB",
    threads: int = 0,
    train_dir: str | None = None,
) -> dict:
    """One dedup run (call it through measure_in_child: the peak RSS is then the run's own).

    With `train_dir`, probabilistic rules are first trained on this data (as Splink alone is)
    from a copy of the rule file in that folder, so the checked-in model is left alone; the
    seconds then cover training and the run."""
    import shutil

    from destinations.warehouse import Warehouse
    from mappings.dedup import DedupEngine, DuckDBOptions, load_match_rules

    started = time.perf_counter()
    engine = DedupEngine(
        Warehouse("duckdb", duckdb_path=Path(db_path)),
        duckdb_options=DuckDBOptions(memory_limit=memory_limit, threads=threads or None),
    )
    trained = False
    if train_dir is not None:
        rules = load_match_rules(rules_path, require_models=False)
        if rules.probabilistic_rules():
            copy = Path(train_dir) / Path(rules_path).name
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(rules_path, copy)
            rules_path = str(copy)
            engine.train(load_match_rules(rules_path, require_models=False))
            trained = True
    train_seconds = time.perf_counter() - started
    result = engine.run(load_match_rules(rules_path))
    return {
        "seconds": time.perf_counter() - started if trained else result.seconds,
        "train_seconds": train_seconds if trained else 0.0,
        "records": result.records,
        "clusters": result.clusters,
        "multi": result.multi_record_clusters,
        "golden": result.golden_rows,
        "crosswalk": result.crosswalk_rows,
        "crosswalk_table": result.crosswalk_table,
        "rules": {r.rule: r.edges for r in result.rules},
    }


def crosswalk_clusters(crosswalk_table: str) -> str:
    """The engine's clusters as (record_id, cluster_id): record id `<source>:<source id>`."""
    return (
        "SELECT _source || ':' || _source_id AS record_id, golden_id AS cluster_id "
        f"FROM {crosswalk_table}"
    )


# --- Splink on its own -----------------------------------------------------------------------


@dataclass
class SplinkPlan:
    """Everything a Splink baseline run needs; built in the child by a module-level function
    (Splink's objects do not cross a process boundary).

    `inputs` are SQL queries over the attached database `src`, one for dedupe, two for link
    only; each must return a `unique_id` (globally unique) and the compared columns.
    """

    settings: Any  # splink.SettingsCreator
    inputs: list[str]
    deterministic_rules: list[Any]
    deterministic_recall: float
    em_blocks: list[Any]
    threshold: float
    u_max_pairs: float = 5e6
    note: str = ""
    extra: dict = field(default_factory=dict)


def run_splink(
    plan_builder: Callable[..., SplinkPlan],
    plan_args: tuple,
    src_db: str,
    out_parquet: str,
    memory_limit: str = "3GB",
    threads: int = 0,
) -> dict:
    """Train and run Splink on its own DuckDB (in memory, spilling to a temp directory): m by
    EM on the plan's blocks, u by random sampling, lambda from deterministic rules; predict,
    cluster at the plan's threshold and write (record_id, cluster_id) to `out_parquet`.
    Seconds cover reading the input to writing the clusters; imports excluded."""
    import logging
    import warnings

    import duckdb
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained-level notices
    warnings.filterwarnings("ignore", module="splink")
    started = time.perf_counter()
    plan = plan_builder(*plan_args)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = '{out_parquet}.tmp'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH '{src_db}' AS src (READ_ONLY)")
    db_api = DuckDBAPI(con)
    frames = []
    for i, query in enumerate(plan.inputs):
        con.execute(f"CREATE TABLE splink_in_{i} AS {query}")
        frames.append(db_api.register(f"splink_in_{i}", dataset_display_name=f"input_{i}"))
    con.execute("DETACH src")
    linker = Linker(frames if len(frames) > 1 else frames[0], plan.settings, log_level=None)
    phases: dict[str, float] = {}
    mark = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        plan.deterministic_rules, recall=plan.deterministic_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=plan.u_max_pairs, seed=42)
    for block in plan.em_blocks:
        linker.training.estimate_parameters_using_expectation_maximisation(block)
    phases["train"] = time.perf_counter() - mark
    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=plan.threshold)
    phases["predict"] = time.perf_counter() - mark
    mark = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=plan.threshold
    )
    edges = con.execute(f"SELECT COUNT(*) FROM {predictions.physical_name}").fetchone()[0]
    con.execute(
        f"COPY (SELECT CAST(unique_id AS VARCHAR) AS record_id, "
        f"CAST(cluster_id AS VARCHAR) AS cluster_id FROM {clusters.physical_name}) "
        f"TO '{out_parquet}' (FORMAT parquet)"
    )
    phases["cluster"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    records, n_clusters, multi = con.execute(f"""
        SELECT SUM(n), COUNT(*), COUNT(*) FILTER (WHERE n > 1)
        FROM (SELECT COUNT(*) AS n FROM read_parquet('{out_parquet}') GROUP BY cluster_id)
    """).fetchone()
    con.close()
    return {
        "seconds": seconds,
        "phases": phases,
        "records": int(records),
        "clusters": int(n_clusters),
        "multi": int(multi),
        "edges": int(edges),
        "threshold": plan.threshold,
        "note": plan.note,
    }


def parquet_clusters(path: str) -> str:
    return f"SELECT record_id, cluster_id FROM read_parquet('{path}')"


# --- the table --------------------------------------------------------------------------------

QUALITY_HEADERS = [
    "dataset",
    "method",
    "precision",
    "recall",
    "F1",
    "true pairs",
    "predicted pairs",
    "false pos",
    "false neg",
    "seconds",
    "peak RSS MB",
]


def quality_row(dataset: str, method: str, run: dict, quality: Quality) -> list:
    return [
        dataset,
        method,
        f"{quality.precision:.4f}",
        f"{quality.recall:.4f}",
        f"{quality.f1:.4f}",
        quality.true_pairs,
        quality.predicted_pairs,
        quality.false_positives,
        quality.false_negatives,
        run["seconds"],
        round(run["peak_rss_mb"]),
    ]

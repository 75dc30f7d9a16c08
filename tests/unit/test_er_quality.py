"""Entity-resolution quality as a test (issue 10): pairwise precision and recall of the engine's
clusters on labelled data must stay above measured floors, so a rule or engine change that
merges different people (or stops finding the same one) fails CI.

- the pairwise metric itself, on a hand-made example and against brute-force pair counting;
- the shipped contacts rules on the ER benchmark's generator at 2,000 + 2,000 contacts (its
  namesakes, households, switchboards, free-mail duplicates and typos; the truth is the
  generator's person number);
- the FEBRL rule files (probabilistic with their checked-in models, and exact + fuzzy) on a
  sample of the public FEBRL3 and FEBRL4 data (entities 0-999).

Floors are the figures measured on the shipped rules minus a margin (see each constant).
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import duckdb
import pytest

from bench.entity_resolution import RULES, generate
from bench.entity_resolution_febrl import RULES_DIR, write_warehouse
from bench.er_quality import (
    Quality,
    QualityError,
    crosswalk_clusters,
    pairwise_quality,
    quality_of,
)
from destinations.warehouse import Warehouse
from mappings.dedup import DedupEngine, load_match_rules

# Shipped contacts rules at 2,000 + 2,000, measured: the exact + fuzzy rules (before d536812)
# 0.790 precision / 0.976 recall (namesakes at one company and shared small-office phones
# merged different people); the probabilistic rule of bfea81f 1.000 / 1.000. The floors are
# the shipped rule's figures minus a margin: raise them when the rules improve, never lower
# them to pass. The benchmark's target is precision >= 0.99 and recall >= 0.97 at 1M + 1M.
CONTACTS_MIN_PRECISION = 0.98
CONTACTS_MIN_RECALL = 0.97
# bench/febrl_rules on FEBRL entities 0-999 (probabilistic rules with their checked-in models,
# trained on the whole of FEBRL3), measured precision / recall:
# people_prob.yaml FEBRL3 1.000/1.000, FEBRL4 1.000/1.000; people_prob_no_ids.yaml FEBRL3
# 1.000/0.973, FEBRL4 1.000/0.990; exact + fuzzy people.yaml FEBRL3 1.000/0.995, FEBRL4
# 1.000/0.995; people_no_ids.yaml FEBRL3 0.996/0.955, FEBRL4 1.000/0.967.
FEBRL_FLOORS = {
    ("people_prob.yaml", "febrl3"): (0.995, 0.99),
    ("people_prob.yaml", "febrl4"): (0.995, 0.99),
    ("people_prob_no_ids.yaml", "febrl3"): (0.99, 0.95),
    ("people_prob_no_ids.yaml", "febrl4"): (0.99, 0.97),
    ("people.yaml", "febrl3"): (0.99, 0.98),
    ("people.yaml", "febrl4"): (0.99, 0.98),
    ("people_no_ids.yaml", "febrl3"): (0.98, 0.93),
    ("people_no_ids.yaml", "febrl4"): (0.98, 0.94),
}


def quality(predicted: dict[str, str], truth: dict[str, str]) -> Quality:
    with duckdb.connect() as conn:
        conn.execute("CREATE TABLE p (record_id VARCHAR, cluster_id VARCHAR)")
        conn.execute("CREATE TABLE t (record_id VARCHAR, entity_id VARCHAR)")
        conn.executemany("INSERT INTO p VALUES (?, ?)", list(predicted.items()))
        conn.executemany("INSERT INTO t VALUES (?, ?)", list(truth.items()))
        return pairwise_quality(conn, "SELECT * FROM p", "SELECT * FROM t")


def test_pairwise_metric_on_a_hand_made_example() -> None:
    truth = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "c1": "C"}
    # clusters {a1, a2, b1}, {a3}, {b2, c1}: predicted pairs a1-a2, a1-b1, a2-b1, b2-c1;
    # true pairs a1-a2, a1-a3, a2-a3, b1-b2; only a1-a2 is both.
    predicted = {"a1": "x", "a2": "x", "b1": "x", "a3": "y", "b2": "z", "c1": "z"}
    q = quality(predicted, truth)
    assert (q.records, q.predicted_pairs, q.true_pairs, q.true_positives) == (6, 4, 4, 1)
    assert (q.precision, q.recall, q.f1) == (0.25, 0.25, 0.25)
    assert (q.false_positives, q.false_negatives) == (3, 3)

    perfect = quality(dict(zip(truth, truth.values(), strict=True)), truth)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    singletons = quality({r: r for r in truth}, truth)
    assert (singletons.predicted_pairs, singletons.precision, singletons.recall) == (0, 1.0, 0.0)
    one_cluster = quality(dict.fromkeys(truth, "all"), truth)
    assert (one_cluster.predicted_pairs, one_cluster.true_positives) == (15, 4)


def test_pairwise_metric_equals_brute_force_pair_counting() -> None:
    rng = random.Random(7)
    for _ in range(20):
        records = [f"r{i}" for i in range(rng.randint(2, 40))]
        truth = {r: f"e{rng.randint(0, 8)}" for r in records}
        predicted = {r: f"c{rng.randint(0, 8)}" for r in records}
        pairs = list(itertools.combinations(records, 2))
        same_pred = {p for p in pairs if predicted[p[0]] == predicted[p[1]]}
        same_true = {p for p in pairs if truth[p[0]] == truth[p[1]]}
        q = quality(predicted, truth)
        assert q.predicted_pairs == len(same_pred)
        assert q.true_pairs == len(same_true)
        assert q.true_positives == len(same_pred & same_true)


def test_pairwise_metric_refuses_records_missing_or_repeated() -> None:
    truth = {"a": "A", "b": "A"}
    with pytest.raises(QualityError, match="no cluster"):
        quality({"a": "x"}, truth)
    with pytest.raises(QualityError, match="no true entity"):
        quality({"a": "x", "b": "x", "c": "y"}, truth)
    with duckdb.connect() as conn:
        twice = "SELECT * FROM (VALUES ('a', 'x'), ('a', 'y'), ('b', 'x')) v(record_id, cluster_id)"
        truth_sql = "SELECT * FROM (VALUES ('a', 'A'), ('b', 'A')) v(record_id, entity_id)"
        with pytest.raises(QualityError, match="more than once"):
            pairwise_quality(conn, twice, truth_sql)


def resolve(db: Path, rules_path: Path) -> str:
    result = DedupEngine(Warehouse("duckdb", duckdb_path=db)).run(load_match_rules(rules_path))
    return crosswalk_clusters(result.crosswalk_table)


def test_shipped_contacts_rules_keep_precision_and_recall(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    generate(str(db), 2000)
    q = quality_of(str(db), resolve(db, RULES))
    assert q.true_pairs > 600  # the generator still makes duplicates to find
    assert q.precision >= CONTACTS_MIN_PRECISION, q.as_dict()
    assert q.recall >= CONTACTS_MIN_RECALL, q.as_dict()


@pytest.mark.parametrize(("rules_file", "dataset"), sorted(FEBRL_FLOORS))
def test_febrl_rules_keep_precision_and_recall(
    tmp_path: Path, rules_file: str, dataset: str
) -> None:
    db = tmp_path / "warehouse.duckdb"
    info = write_warehouse(str(db), dataset, max_entity=1000)
    assert info["entities"] == 1000
    q = quality_of(str(db), resolve(db, RULES_DIR / rules_file))
    min_precision, min_recall = FEBRL_FLOORS[(rules_file, dataset)]
    assert q.precision >= min_precision, q.as_dict()
    assert q.recall >= min_recall, q.as_dict()

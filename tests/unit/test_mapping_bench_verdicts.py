"""The mapping and entity-resolution benchmarks' verdict lines (issue 9, item 18): `met` depends
on every figure the target names AND on correct output, never on speed alone."""

from __future__ import annotations

from bench.entity_resolution import verdict as er_verdict
from bench.er_quality import Quality
from bench.mapping_throughput import verdict as mapping_verdict


def test_mapping_met_needs_the_ratio_the_same_rows_equal_output_and_the_invariant() -> None:
    assert ": met (25.0x)" in mapping_verdict(25, same_rows=True, equal=True, invariant=True)
    for broken in ("same_rows", "equal", "invariant"):
        flags = {"same_rows": True, "equal": True, "invariant": True, broken: False}
        line = mapping_verdict(99, **flags)
        assert "NOT met" in line and ": met" not in line
    assert "ratio below 20x" in mapping_verdict(5, same_rows=True, equal=True, invariant=True)


def run(**extra) -> dict:
    base = {"seconds": 10.0, "peak_rss_mb": 900.0, "records": 100, "crosswalk": 100,
            "clusters": 80, "golden": 80, "multi": 15, "merged": 2}  # fmt: skip
    return {**base, **extra}


GOOD_CHECK = {"unexplained": 0, "dup_ids": 0}
CHANGES = {"corrected": 2, "updated": 1}
GOOD = {"quality": Quality(records=100, predicted_pairs=20, true_pairs=20, true_positives=20)}


def test_entity_resolution_met_needs_figures_and_correct_clusters() -> None:
    runs = [("full (python)", run()), ("second run (python)", run())]
    line, correct = er_verdict(runs, GOOD_CHECK, CHANGES, **GOOD)
    assert line.endswith(": met") and correct

    slow = [("full (python)", run(seconds=61.0)), ("second run (python)", run())]
    line, correct = er_verdict(slow, GOOD_CHECK, CHANGES, **GOOD)
    assert "NOT met" in line and correct  # a missed figure, output still right

    cases = [
        ([("full (python)", run(crosswalk=99)), ("second run (python)", run())], GOOD_CHECK),
        ([("full (python)", run()), ("second run (python)", run(merged=0))], GOOD_CHECK),
        ([("full (python)", run()), ("second", run())], {"unexplained": 3, "dup_ids": 0}),
        ([("full (python)", run()), ("full (sql)", run(clusters=79, golden=79))], GOOD_CHECK),
        ([("full (python)", run(records=0, crosswalk=0)), ("second", run())], GOOD_CHECK),
    ]
    for runs, check in cases:
        line, correct = er_verdict(runs, check, CHANGES, **GOOD)
        assert "NOT met" in line and not correct, line

"""The entity-resolution benchmark's verdict (issue 10): `met` needs precision and recall at
their targets beside seconds, memory and correct output, and says when the run was smaller
than the 1M + 1M the target names."""

from __future__ import annotations

from bench.entity_resolution import MIN_PRECISION, MIN_RECALL, verdict
from bench.er_quality import Quality

RUN = {"seconds": 10.0, "peak_rss_mb": 900.0, "records": 100, "crosswalk": 100,
       "clusters": 80, "golden": 80, "multi": 15, "merged": 2}  # fmt: skip
RUNS = [("full (python)", RUN), ("second run (python)", RUN)]
CHECK = {"unexplained": 0, "dup_ids": 0}
CHANGES = {"corrected": 2, "updated": 1}


def quality(tp: int, predicted: int, true: int) -> Quality:
    return Quality(records=1000, predicted_pairs=predicted, true_pairs=true, true_positives=tp)


def test_met_needs_precision_and_recall_at_target() -> None:
    line, correct = verdict(RUNS, CHECK, CHANGES, quality=quality(990, 1000, 1000))
    assert line.endswith(": met") and correct

    low_precision = quality(980, 1000, 1000)  # 0.98 < 0.99, recall 0.98
    line, correct = verdict(RUNS, CHECK, CHANGES, quality=low_precision)
    assert "NOT met" in line and f"precision 0.9800 < {MIN_PRECISION}" in line and correct

    low_recall = quality(960, 960, 1000)  # precision 1.0, recall 0.96
    line, _ = verdict(RUNS, CHECK, CHANGES, quality=low_recall)
    assert "NOT met" in line and f"recall 0.9600 < {MIN_RECALL}" in line
    assert "precision" not in line.split("NOT met")[1]


def test_unmeasured_quality_is_never_met() -> None:
    line, _ = verdict(RUNS, CHECK, CHANGES)
    assert "NOT met" in line and "not measured" in line


def test_a_smaller_run_says_it_is_not_the_target_size() -> None:
    line, _ = verdict(RUNS, CHECK, CHANGES, quality=quality(1000, 1000, 1000), rows=50_000)
    assert "not the 1M + 1M target" in line
    line, _ = verdict(RUNS, CHECK, CHANGES, quality=quality(1000, 1000, 1000))
    assert "not the 1M + 1M target" not in line


def test_the_second_runs_quality_counts_too() -> None:
    good, split = quality(1000, 1000, 1000), quality(900, 900, 1000)
    line, correct = verdict(RUNS, CHECK, CHANGES, quality=good, second_quality=split)
    assert "NOT met" in line and "second run recall 0.9000" in line and correct
    line, _ = verdict(RUNS, CHECK, CHANGES, quality=good, second_quality=good)
    assert line.endswith(": met")


def test_corrections_that_merge_nothing_are_wrong_output() -> None:
    unmerged = [RUNS[0], ("second run (python)", {**RUN, "merged": 0})]
    line, correct = verdict(unmerged, CHECK, CHANGES, quality=quality(1000, 1000, 1000))
    assert "corrected records merged no clusters" in line and not correct

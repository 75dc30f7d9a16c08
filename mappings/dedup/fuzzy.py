"""Fuzzy match edges inside blocks, scored with rapidfuzz.

Only records that share a blocking key are compared, so the work is the sum of squared block
sizes, never the square of the table. Blocks arrive sorted (the warehouse sorts them); one
C-level `process.extract` call scores a record against the rest of its block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

# name -> (scorer, factor applied to the 0-100 threshold to get the scorer's cutoff)
SCORERS: dict[str, tuple[Callable[..., Any], float]] = {
    "ratio": (fuzz.ratio, 1.0),
    "token_sort_ratio": (fuzz.token_sort_ratio, 1.0),
    "token_set_ratio": (fuzz.token_set_ratio, 1.0),
    "partial_ratio": (fuzz.partial_ratio, 1.0),
    "jaro_winkler": (JaroWinkler.normalized_similarity, 0.01),
}


@dataclass
class FuzzyStats:
    blocks: int = 0
    comparisons: int = 0
    pairs: int = 0


def score(scorer: str, a: str, b: str) -> float:
    """One pair's score on the 0-100 scale thresholds use (for previews and tests)."""
    fn, factor = SCORERS[scorer]
    return float(fn(a, b)) / factor


def block_pairs(
    ids: Sequence[int],
    blocks: Sequence[str],
    texts: Sequence[str],
    *,
    scorer: str,
    threshold: float,
) -> tuple[list[int], list[int], FuzzyStats]:
    """Pairs (left id, right id) within each block whose texts score at least `threshold`.

    `blocks` must be sorted so that equal keys are adjacent; each pair is reported once.
    """
    fn, factor = SCORERS[scorer]
    cutoff = threshold * factor
    left: list[int] = []
    right: list[int] = []
    stats = FuzzyStats()
    n = len(ids)
    start = 0
    while start < n:
        end = start + 1
        while end < n and blocks[end] == blocks[start]:
            end += 1
        if end - start >= 2:
            stats.blocks += 1
            block_texts = texts[start:end]
            for i in range(end - start - 1):
                rest = block_texts[i + 1 :]
                stats.comparisons += len(rest)
                for _choice, _score, j in process.extract(
                    block_texts[i], rest, scorer=fn, score_cutoff=cutoff, limit=None
                ):
                    left.append(ids[start + i])
                    right.append(ids[start + i + 1 + j])
        start = end
    stats.pairs = len(left)
    return left, right, stats

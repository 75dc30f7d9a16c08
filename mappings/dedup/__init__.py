"""Cross-source dedup: match rules (YAML) -> clusters -> golden records + crosswalk, in SQL.

Public API:
    load_match_rules(path) / load_match_rules_dir(directory) -> MatchRules
    DedupEngine(warehouse).run(rules) -> DedupResult
"""

from mappings.dedup.engine import DedupEngine, DedupError, DedupResult, RuleStats
from mappings.dedup.golden_ids import IdStats, golden_id_for
from mappings.dedup.rules import (
    MatchRuleFileError,
    MatchRules,
    load_match_rules,
    load_match_rules_dir,
)
from mappings.dedup.session import DuckDBOptions

__all__ = [
    "DedupEngine",
    "DedupError",
    "DedupResult",
    "DuckDBOptions",
    "IdStats",
    "MatchRuleFileError",
    "MatchRules",
    "RuleStats",
    "golden_id_for",
    "load_match_rules",
    "load_match_rules_dir",
]

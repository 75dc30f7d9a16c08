"""Probabilistic match rules: Fellegi-Sunter scoring with Splink, inside the dedup session.

A `type: probabilistic` rule compares each candidate pair field by field (graded levels: exact,
near, different, null), adds up the learned match weights of the levels it lands in (with
term-frequency adjustments: agreeing on a rare name weighs more than on a common one) and keeps
pairs scoring at least the rule's threshold as edges of the match graph, beside the exact
rules' edges. The parameters (m and u per level, the prior) are trained by `train` and stored
as Splink's settings JSON (the rule's `model` file); a run only reads them.

Splink runs on the engine's own DuckDB connection: its input is a temporary table built from
`er_records`, its intermediate tables live in an attached in-memory catalog that is detached
afterwards, so nothing of Splink's is ever written to the warehouse file. Postgres warehouses
get a clear error (see `require_duckdb`).

This module never decides clusters or ids: it only adds edges (`er_edges`, with the pair's
match weight and probability) and writes the model file and its charts.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mappings.dedup import sqlgen
from mappings.dedup.rules import (
    Comparison,
    MatchRules,
    ProbabilisticRule,
)
from mappings.dedup.session import DedupSession

SPLINK_INPUT = "er_splink_input"
SCRATCH_CATALOG = "er_splink_scratch"
# Splink logs every training step at INFO; a dedup run reports its own figures. Training keeps
# Splink's warnings (levels never observed, which the charts then show); scoring only errors.
TRAIN_LOG_LEVEL = logging.WARNING
SCORE_LOG_LEVEL = logging.ERROR


class ProbabilisticUnsupported(RuntimeError):
    """The warehouse cannot run Splink scoring inside the dedup session."""


def require_duckdb(session: DedupSession, rule: ProbabilisticRule) -> None:
    """Splink's Postgres backend needs a SQLAlchemy engine of its own (a second connection,
    which cannot see the session's temporary tables) and installs functions into the
    database; so probabilistic rules run on DuckDB warehouses only."""
    if session.dialect != "duckdb":
        raise ProbabilisticUnsupported(
            f"rule {rule.name!r} is probabilistic, and probabilistic rules run only on a DuckDB "
            f"warehouse (this one is {session.dialect}); use exact and fuzzy rules on "
            "Postgres, or run dedup on a DuckDB copy"
        )


# --- columns ------------------------------------------------------------------------------
def raw_column(field: str) -> str:
    return f"_raw_{field}"


def stage_columns(rule: ProbabilisticRule, staged: set[str], source: set[str]) -> list[str]:
    """Select items for `er_records`: the fields the rule reads that the record table does not
    carry already (canonical columns listed under exclude_fields), under a private name.
    Optional fields the source table lacks are left out (compared as missing)."""
    used = [*rule.fields, *(b.field for entry in rule.block_by for b in entry)]
    return [
        f"{sqlgen.quote(f)} AS {raw_column(f)}"
        for f in dict.fromkeys(used)
        if f not in staged and f in source
    ]


def _domain_name(c: Comparison) -> str:
    return f"{c.field}__domain"


def build_input(session: DedupSession, rule: ProbabilisticRule) -> list[tuple[int, int]]:
    """Create the Splink input table from `er_records`: the compared fields normalized,
    e-mail domains, and one key per candidate block entry (NULL when any part is NULL, and
    when more than `max_block_size` records share it: skipped). Returns (groups, records)
    skipped per block entry."""
    t = session.text_type
    present = set(session.arrow("SELECT * FROM er_records LIMIT 0").column_names)

    def column(field: str) -> str:
        return field if field in present else raw_column(field)

    values = ["_rid AS unique_id"]
    for c in rule.compare:
        if c.field not in present and raw_column(c.field) not in present:
            # an optional field this table lacks: every pair lands in the null level
            values.append(f"CAST(NULL AS {t}) AS {sqlgen.quote(c.field)}")
            if c.method == "email":
                values.append(f"CAST(NULL AS {t}) AS {sqlgen.quote(_domain_name(c))}")
            continue
        values.append(
            f"{sqlgen.normalized(column(c.field), c.normalize, t)} AS {sqlgen.quote(c.field)}"
        )
        if c.method == "email":
            domain = sqlgen.normalized(column(c.field), "email_domain", t)
            values.append(f"{domain} AS {sqlgen.quote(_domain_name(c))}")
    for j, entry in enumerate(rule.block_by):
        if any(b.field not in present and raw_column(b.field) not in present for b in entry):
            values.append(f"CAST(NULL AS {t}) AS _block{j}")  # an absent optional field
            continue
        parts = [
            sqlgen.block_part(b.model_copy(update={"field": column(b.field)}), t) for b in entry
        ]
        values.append(f"{f' || {sqlgen.KEY_SEPARATOR} || '.join(parts)} AS _block{j}")
    session.execute(f"DROP TABLE IF EXISTS {SPLINK_INPUT}")
    session.execute(
        f"CREATE TEMP TABLE {SPLINK_INPUT} AS SELECT {', '.join(values)} FROM er_records"
    )
    # Keys shared by more than max_block_size records are blanked: usually none or a few, so
    # a grouped count and an update of those rows (no window over the whole table).
    cap = rule.max_block_size
    skipped = []
    for j in range(len(rule.block_by)):
        session.execute("DROP TABLE IF EXISTS er_splink_big")
        session.execute(
            f"CREATE TEMP TABLE er_splink_big AS SELECT _block{j} AS k, COUNT(*) AS n "
            f"FROM {SPLINK_INPUT} WHERE _block{j} IS NOT NULL GROUP BY _block{j} "
            f"HAVING COUNT(*) > {cap}"
        )
        groups, records = session.rows("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM er_splink_big")[0]
        if groups:
            session.execute(
                f"UPDATE {SPLINK_INPUT} SET _block{j} = NULL "
                f"WHERE _block{j} IN (SELECT k FROM er_splink_big)"
            )
        skipped.append((int(groups), int(records)))
    session.execute("DROP TABLE er_splink_big")
    return skipped


# --- the Splink model ---------------------------------------------------------------------
def comparison(c: Comparison) -> Any:
    """The Splink comparison (graded levels) for one compared field."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    col = c.field
    if c.method == "exact":
        made = cl.ExactMatch(col)
    elif c.method == "name":
        made = cl.JaroWinklerAtThresholds(col, [0.92, 0.80])
    else:
        # The address itself is matched exactly; a shared domain is weak evidence of one
        # employer (its weight drops with the domain's frequency: gmail.com is no evidence).
        domain = cll.ExactMatchLevel(_domain_name(c)).configure(
            label_for_charts=f"same {c.field} domain, other address"
        )
        if c.term_frequency:
            domain = domain.configure(tf_adjustment_column=_domain_name(c))
        return cl.CustomComparison(
            [
                cll.NullLevel(col),
                cll.ExactMatchLevel(col).configure(label_for_charts=f"same {c.field} address"),
                domain,
                cll.ElseLevel().configure(label_for_charts=f"different {c.field} domain"),
            ],
            output_column_name=col,
            comparison_description=f"{c.field}: exact address, same domain, different",
        )
    if c.term_frequency:
        made = made.configure(term_frequency_adjustments=True)
    return made


def blocking_rules(rule: ProbabilisticRule) -> list[str]:
    return [f"l._block{j} = r._block{j}" for j in range(len(rule.block_by))]


def new_settings(rule: ProbabilisticRule) -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[comparison(c) for c in rule.compare],
        blocking_rules_to_generate_predictions=blocking_rules(rule),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def load_settings(path: Path, rule: ProbabilisticRule) -> dict:
    """The trained model with the rule's current candidate blocks (the blocks decide which
    pairs are scored, not how: they may change without retraining)."""
    settings = json.loads(path.read_text(encoding="utf-8"))
    settings["blocking_rules_to_generate_predictions"] = blocking_rules(rule)
    settings["link_type"] = "dedupe_only"
    return settings


@contextmanager
def splink_scratch(session: DedupSession) -> Iterator[Any]:
    """A Splink DuckDB API on the session's connection whose tables go to an attached
    in-memory catalog (dropped afterwards); the session's temp tables stay visible."""
    from splink import DuckDBAPI

    conn = session.conn
    home = session.scalar("SELECT current_database()")
    session.execute(f"ATTACH ':memory:' AS {SCRATCH_CATALOG}")
    session.execute(f"USE {SCRATCH_CATALOG}")
    try:
        yield DuckDBAPI(conn)
    finally:
        session.execute(f'USE "{home}"')
        session.execute(f"DETACH {SCRATCH_CATALOG}")


def _linker(api: Any, settings: Any, log_level: int) -> Any:
    from splink import Linker

    frame = api.register(SPLINK_INPUT, table_name="er_splink_records")
    return Linker(frame, settings, log_level=log_level)


def _agree(fields: list[str]) -> str:
    return " AND ".join(f"l.{sqlgen.quote(f)} = r.{sqlgen.quote(f)}" for f in fields)


def _bound_unobserved_u(linker: Any, sampled_pairs: int) -> None:
    """A level no random pair fell into (two different people sharing an e-mail address, in a
    table of unique addresses) gets u = 1 / sampled pairs: the largest u consistent with not
    seeing it, so its weight is a lower bound, not a missing value (which would weigh 0)."""
    from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

    for comparison in linker._settings_obj.comparisons:
        for level in comparison.comparison_levels:
            if level.is_null_level:
                continue
            if level._u_probability in (None, LEVEL_NOT_OBSERVED_TEXT):
                level.u_probability = 1.0 / sampled_pairs


@dataclass
class TrainedModel:
    rule: str
    path: Path
    records: int
    probability_two_random_records_match: float
    charts: dict[str, Path]


def train(
    session: DedupSession,
    rules: MatchRules,
    i: int,
    rule: ProbabilisticRule,
    charts_dir: Path | None = None,
) -> TrainedModel:
    """Estimate the rule's model on `er_records` and write it to the rule's model file:
    the prior from pairs agreeing on `prior_agree_on` (with its assumed recall), u by random
    sampling, m by EM on each `em_blocks` block (fields not in a block are trained by it)."""
    require_duckdb(session, rule)
    build_input(session, rule)
    records = int(session.scalar(f"SELECT COUNT(*) FROM {SPLINK_INPUT}"))
    t = rule.training
    with splink_scratch(session) as api:
        linker = _linker(api, new_settings(rule), TRAIN_LOG_LEVEL)
        linker.training.estimate_probability_two_random_records_match(
            [_agree(t.prior_agree_on)], recall=t.prior_recall
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=t.u_max_pairs, seed=t.seed)
        _bound_unobserved_u(linker, t.u_max_pairs)
        for block in t.em_blocks:
            linker.training.estimate_parameters_using_expectation_maximisation(_agree(block))
        settings = linker.misc.save_model_to_json(out_path=None)
    settings["blocking_rules_to_generate_predictions"] = blocking_rules(rule)
    path = rules.model_path(rule)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    charts = write_charts(path, charts_dir, rule) if charts_dir else {}
    return TrainedModel(
        rule=rule.name,
        path=path,
        records=records,
        probability_two_random_records_match=float(
            settings["probability_two_random_records_match"]
        ),
        charts=charts,
    )


def data_prior(session: DedupSession, rule: ProbabilisticRule) -> float | None:
    """The prior (probability that two random records match) of the records being resolved,
    estimated as training does: pairs agreeing on `prior_agree_on`, divided by its assumed
    recall, over all pairs. It scales with the table (a person has about as many duplicates in
    4,000 records as in 2,000,000, among far fewer pairs), which m and u do not; None when no
    pair agrees (the trained prior is kept)."""
    fields = [sqlgen.quote(f) for f in rule.training.prior_agree_on]
    present = " AND ".join(f"{f} IS NOT NULL" for f in fields)
    agreeing, records = session.rows(
        f"SELECT (SELECT COALESCE(SUM(n * (n - 1) / 2), 0) FROM (SELECT COUNT(*) AS n FROM "
        f"{SPLINK_INPUT} WHERE {present} GROUP BY {', '.join(fields)}) g), "
        f"(SELECT COUNT(*) FROM {SPLINK_INPUT})"
    )[0]
    pairs = records * (records - 1) / 2
    if not agreeing or pairs <= 0:
        return None
    return min(float(agreeing) / rule.training.prior_recall / pairs, 0.5)


@dataclass
class Scored:
    edges: int
    skipped_groups: int
    skipped_records: int


def score_edges(
    session: DedupSession, rules: MatchRules, i: int, rule: ProbabilisticRule
) -> Scored:
    """Score the candidate pairs with the trained model; insert pairs at or above the
    threshold into `er_edges` (root = the smaller record) with their weight and probability."""
    require_duckdb(session, rule)
    skipped = build_input(session, rule)
    settings = load_settings(rules.model_path(rule), rule)
    prior = data_prior(session, rule)
    if prior is not None:
        settings["probability_two_random_records_match"] = prior
    with splink_scratch(session) as api:
        linker = _linker(api, settings, SCORE_LOG_LEVEL)
        predictions = linker.inference.predict(
            threshold_match_probability=rule.threshold.match_probability,
            threshold_match_weight=rule.threshold.match_weight,
        )
        table = f"{SCRATCH_CATALOG}.main.{predictions.physical_name}"
        session.execute(
            "INSERT INTO er_edges SELECT GREATEST(unique_id_l, unique_id_r), "
            f"LEAST(unique_id_l, unique_id_r), {i}, match_weight, match_probability "
            f"FROM {table}"
        )
        linker.table_management.delete_tables_created_by_splink_from_db()
    session.execute(f"DROP TABLE IF EXISTS {SPLINK_INPUT}")
    edges = int(session.scalar(f"SELECT COUNT(*) FROM er_edges WHERE rule_idx = {i}"))
    return Scored(
        edges=edges,
        skipped_groups=sum(g for g, _ in skipped),
        skipped_records=sum(r for _, r in skipped),
    )


# --- charts -------------------------------------------------------------------------------
CHARTS = {"match_weights": "match_weights_chart", "m_u_parameters": "m_u_parameters_chart"}


def write_charts(model_path: Path, out_dir: Path, rule: ProbabilisticRule) -> dict[str, Path]:
    """Splink's match-weights and m/u charts of a trained model as HTML (self-contained) and
    PNG: `<out_dir>/<rule>.<chart>.{html,png}`. Returns {"<chart>_html": path, ...}."""
    from splink import DuckDBAPI, Linker

    settings = load_settings(model_path, rule)
    # The charts need only the model; an empty input of the right shape satisfies the Linker.
    api = DuckDBAPI(":memory:")
    columns = ["unique_id"] + [
        name
        for c in rule.compare
        for name in ([c.field, _domain_name(c)] if c.method == "email" else [c.field])
    ]
    columns += [f"_block{j}" for j in range(len(rule.block_by))]
    api.duckdb_con.execute(
        "CREATE TABLE er_splink_records AS SELECT "
        + ", ".join(
            f"CAST(NULL AS {'BIGINT' if n == 'unique_id' else 'VARCHAR'}) AS {sqlgen.quote(n)}"
            for n in columns
        )
        + " WHERE false"
    )
    linker = Linker(
        api.register("er_splink_records", table_name="records"),
        settings,
        log_level=SCORE_LOG_LEVEL,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, method in CHARTS.items():
        chart = getattr(linker.visualisations, method)()
        html = out_dir / f"{rule.name}.{name}.html"
        html.write_text(chart.to_html(inline=True), encoding="utf-8")
        png = out_dir / f"{rule.name}.{name}.png"
        with warnings.catch_warnings():
            # altair renames a selection parameter Splink's spec repeats; harmless
            warnings.simplefilter("ignore", UserWarning)
            chart.save(str(png), format="png", scale_factor=1.5)
        written[f"{name}_html"], written[f"{name}_png"] = html, png
    api.duckdb_con.close()
    return written

"""Golden ids that stay stable across runs, derived from the previous crosswalk.

Rules, applied in the warehouse over the temp tables of the current run:

1. Every previous golden id picks one *heir* cluster: the cluster now holding most of its
   members (ties: the cluster with the smallest member key).
2. A cluster that is heir to previous ids keeps the oldest of them (golden `_created_at`, ties
   by id); the others are retired as `merged` into it.
3. Members of a previous id that landed in another cluster are recorded as `split` to that
   cluster's id; previous ids with no member left are recorded as `removed`.
4. A cluster heir to nothing gets a new id: the UUID-formatted MD5 of the model and its
   smallest member key, so a rebuild from scratch gives the same ids for the same clusters. An
   id already used (now or by a retired id) gets a numbered variant instead.

Input temp tables: `er_records(_rid, _source, _source_integration, _source_id, ...)` and
`er_members(rid, cluster)` (cluster = smallest rid of the component). Output temp tables:
`er_ids(cluster, golden_id, id_created_at)` and `er_events(previous_id, golden_id, reason)`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from mappings.dedup.rules import MatchRules
from mappings.dedup.session import DedupSession
from mappings.dedup.sqlgen import member_hash_sql, uuid_from_hash_sql


@dataclass(frozen=True)
class IdStats:
    kept: int
    new: int
    merged: int
    split: int
    removed: int


def golden_id_for(model: str, source: str, integration: str, source_id: str, attempt: int = 0):
    """The id a new cluster gets from its smallest member key (`attempt` > 0 on a collision)."""
    text = "\x1f".join([model, source, integration, source_id])
    if attempt:
        text += f"\x1f{attempt}"
    return str(uuid.UUID(hex=hashlib.md5(text.encode()).hexdigest()))


def _member_join(alias: str) -> str:
    return (
        f"{alias}._source = r._source AND {alias}._source_integration = r._source_integration "
        f"AND {alias}._source_id = r._source_id"
    )


def assign_golden_ids(session: DedupSession, rules: MatchRules, run_at: str) -> IdStats:
    """Build `er_ids` and `er_events`; `run_at` is a SQL timestamptz literal for new ids."""
    t = session.text_type
    has_prev = session.table_exists(rules.crosswalk)
    golden_cols = {c for c, _ in session.columns(rules.golden)} if has_prev else set()
    created = (
        f"(SELECT golden_id, _created_at FROM {rules.golden})"
        if {"golden_id", "_created_at"} <= golden_cols
        else f"(SELECT CAST(NULL AS {t}) AS golden_id, CAST(NULL AS TIMESTAMPTZ) AS _created_at)"
    )
    for name in ("er_votes", "er_heirs", "er_kept", "er_new", "er_used", "er_ids", "er_events"):
        session.execute(f"DROP TABLE IF EXISTS {name}")
    if has_prev:
        session.execute(
            "CREATE TEMP TABLE er_votes AS SELECT x.golden_id AS prev_id, m.cluster, "
            "COUNT(*) AS n FROM er_records r JOIN er_members m ON m.rid = r._rid "
            f"JOIN {rules.crosswalk} x ON {_member_join('x')} GROUP BY x.golden_id, m.cluster"
        )
    else:
        session.execute(f"CREATE TEMP TABLE er_votes (prev_id {t}, cluster BIGINT, n BIGINT)")
    session.execute(
        "CREATE TEMP TABLE er_heirs AS SELECT prev_id, cluster FROM (SELECT prev_id, cluster, "
        "row_number() OVER (PARTITION BY prev_id ORDER BY n DESC, cluster) AS rk "
        "FROM er_votes) t WHERE rk = 1"
    )
    session.execute(
        "CREATE TEMP TABLE er_kept AS SELECT cluster, prev_id AS golden_id, created "
        "FROM (SELECT h.cluster, h.prev_id, g._created_at AS created, row_number() OVER "
        "(PARTITION BY h.cluster ORDER BY g._created_at NULLS LAST, "
        f"h.prev_id{session.collate}) AS rk FROM er_heirs h LEFT JOIN {created} g "
        "ON g.golden_id = h.prev_id) t WHERE rk = 1"
    )
    session.execute(
        f"CREATE TEMP TABLE er_new AS SELECT cluster, {uuid_from_hash_sql('h')} AS golden_id "
        f"FROM (SELECT m.cluster, {member_hash_sql(rules.model)} AS h FROM er_members m "
        "JOIN er_records r ON r._rid = m.rid LEFT JOIN er_kept k ON k.cluster = m.cluster "
        "WHERE m.rid = m.cluster AND k.cluster IS NULL) c"
    )
    used = ["SELECT golden_id AS id FROM er_kept"]
    if has_prev:
        used.append(f"SELECT golden_id FROM {rules.crosswalk}")
    if session.table_exists(rules.merges):
        used.append(f"SELECT previous_id FROM {rules.merges}")
    session.execute(f"CREATE TEMP TABLE er_used AS {' UNION '.join(used)}")
    _resolve_collisions(session, rules.model)
    session.execute(
        "CREATE TEMP TABLE er_ids AS SELECT cluster, golden_id, "
        f"COALESCE(created, {run_at}) AS id_created_at FROM er_kept "
        f"UNION ALL SELECT cluster, golden_id, {run_at} FROM er_new"
    )
    previous = (
        f"(SELECT DISTINCT golden_id FROM {rules.crosswalk})"
        if has_prev
        else f"(SELECT CAST(NULL AS {t}) AS golden_id WHERE 1 = 0)"
    )
    session.execute(
        "CREATE TEMP TABLE er_events AS "
        "SELECT h.prev_id AS previous_id, i.golden_id, 'merged' AS reason FROM er_heirs h "
        "JOIN er_ids i ON i.cluster = h.cluster WHERE i.golden_id <> h.prev_id "
        "UNION ALL SELECT DISTINCT v.prev_id, i.golden_id, 'split' FROM er_votes v "
        "JOIN er_heirs h ON h.prev_id = v.prev_id JOIN er_ids i ON i.cluster = v.cluster "
        "WHERE v.cluster <> h.cluster "
        f"UNION ALL SELECT p.golden_id, CAST(NULL AS {t}), 'removed' FROM {previous} p "
        "LEFT JOIN er_heirs h ON h.prev_id = p.golden_id WHERE h.prev_id IS NULL"
    )
    counts = dict(session.rows("SELECT reason, COUNT(*) FROM er_events GROUP BY reason"))
    return IdStats(
        kept=int(session.scalar("SELECT COUNT(*) FROM er_kept")),
        new=int(session.scalar("SELECT COUNT(*) FROM er_new")),
        merged=int(counts.get("merged", 0)),
        split=int(counts.get("split", 0)),
        removed=int(counts.get("removed", 0)),
    )


def _resolve_collisions(session: DedupSession, model: str) -> None:
    """Give a numbered variant to each new id that is already taken (rare: only after a split
    where the smallest member's old id went to its heir)."""
    mark = session.mark
    taken = session.rows(
        "SELECT n.cluster, r._source, r._source_integration, r._source_id FROM er_new n "
        "JOIN er_records r ON r._rid = n.cluster WHERE n.golden_id IN (SELECT id FROM er_used)"
    )
    for cluster, source, integration, source_id in taken:
        attempt = 1
        while True:
            candidate = golden_id_for(model, source, integration, source_id, attempt)
            clash = session.scalar(
                f"SELECT (SELECT COUNT(*) FROM er_used WHERE id = {mark}) + "
                f"(SELECT COUNT(*) FROM er_new WHERE golden_id = {mark})",
                [candidate, candidate],
            )
            if not clash:
                break
            attempt += 1
        session.execute(
            f"UPDATE er_new SET golden_id = {mark} WHERE cluster = {mark}", [candidate, cluster]
        )

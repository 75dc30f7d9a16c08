"""Connected components of the match graph: which records end up in one cluster.

Two interchangeable implementations, both labelling every record with the smallest record
number (`rid`) of its component, so their outputs are identical:

- `union_find`: a union-find over the edge pairs pulled out as Arrow arrays (one pass, path
  halving). Moves the pairs out of and the labels back into the warehouse.
- `label_propagation_sql`: min-label propagation with pointer jumping, iterated in SQL until a
  fixpoint. Nothing leaves the warehouse, which suits Postgres.

Edges arrive in the temp table `er_edges(rid, root, rule_idx)`; the result is the temp table
`er_label(rid, label)` holding only records whose label differs from their own rid.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from mappings.dedup.session import DedupSession


def union_find(left: Sequence[int], right: Sequence[int]) -> tuple[list[int], list[int]]:
    """(rids, labels) for every node whose component minimum is not itself.

    Roots are always the smaller rid, so a root is its component's minimum.
    """
    parent: dict[int, int] = {}
    get = parent.get

    def find(x: int) -> int:
        p = get(x, x)
        while p != x:
            gp = get(p, p)
            parent[x] = gp  # path halving
            x, p = gp, get(gp, gp)
        return x

    for a, b in zip(left, right, strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            if ra < rb:
                parent[rb] = ra
            else:
                parent[ra] = rb
    # Only non-roots ever enter `parent`, and a root is never re-parented to itself.
    nodes = list(parent)
    return nodes, [find(x) for x in nodes]


def components_python(session: DedupSession) -> int:
    """Union-find over the edge pairs; writes `er_label`. Returns the number of passes (1)."""
    edges = session.arrow("SELECT rid, root FROM er_edges WHERE rid <> root")
    rids, labels = union_find(edges.column("rid").to_pylist(), edges.column("root").to_pylist())
    table = pa.table({"rid": pa.array(rids, pa.int64()), "label": pa.array(labels, pa.int64())})
    session.create_temp_from_arrow("er_label", table, "rid BIGINT, label BIGINT")
    return 1


def components_sql(session: DedupSession, max_iterations: int = 100) -> int:
    """Min-label propagation with pointer jumping until no label changes; writes `er_label`.

    Each pass gives every node the smallest label among itself and its neighbours, then the
    label of its label (pointer jumping), so long chains collapse in logarithmically many
    passes. Returns the number of passes.
    """
    session.execute("DROP TABLE IF EXISTS er_pairs")
    session.execute(
        "CREATE TEMP TABLE er_pairs AS SELECT DISTINCT a, b FROM ("
        "SELECT rid AS a, root AS b FROM er_edges WHERE rid <> root UNION ALL "
        "SELECT root AS a, rid AS b FROM er_edges WHERE rid <> root) t"
    )
    session.execute("DROP TABLE IF EXISTS er_label")
    session.execute(
        "CREATE TEMP TABLE er_label AS SELECT DISTINCT a AS rid, a AS label FROM er_pairs"
    )
    passes = 0
    while True:
        passes += 1
        if passes > max_iterations:
            raise RuntimeError(f"components did not converge in {max_iterations} passes")
        session.execute("DROP TABLE IF EXISTS er_label_hook")
        session.execute(
            "CREATE TEMP TABLE er_label_hook AS "
            "SELECT l.rid, LEAST(l.label, COALESCE(n.m, l.label)) AS label FROM er_label l "
            "LEFT JOIN (SELECT p.a AS rid, MIN(x.label) AS m FROM er_pairs p "
            "JOIN er_label x ON x.rid = p.b GROUP BY p.a) n ON n.rid = l.rid"
        )
        session.execute("DROP TABLE IF EXISTS er_label_next")
        session.execute(
            "CREATE TEMP TABLE er_label_next AS SELECT h.rid, LEAST(h.label, j.label) AS label "
            "FROM er_label_hook h JOIN er_label_hook j ON j.rid = h.label"
        )
        changed = session.scalar(
            "SELECT COUNT(*) FROM er_label_next n JOIN er_label l ON l.rid = n.rid "
            "WHERE n.label <> l.label"
        )
        session.execute("DROP TABLE er_label")
        session.execute("ALTER TABLE er_label_next RENAME TO er_label")
        if not changed:
            break
    session.execute("DROP TABLE IF EXISTS er_label_hook")
    session.execute("DROP TABLE IF EXISTS er_pairs")
    session.execute("DELETE FROM er_label WHERE rid = label")
    return passes

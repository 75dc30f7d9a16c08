"""Connected components (union-find and SQL label propagation) and blocked fuzzy matching."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.dedup.components import components_python, components_sql, union_find
from mappings.dedup.fuzzy import block_pairs, score
from mappings.dedup.session import DedupSession


def reference_labels(edges: list[tuple[int, int]]) -> dict[int, int]:
    """Smallest node of each component, by breadth-first search (for non-minimal nodes)."""
    adjacency: dict[int, set[int]] = {}
    for a, b in edges:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    labels: dict[int, int] = {}
    for start in adjacency:
        if start in labels:
            continue
        seen, frontier = {start}, [start]
        while frontier:
            frontier = [n for x in frontier for n in adjacency[x] if n not in seen]
            seen.update(frontier)
        low = min(seen)
        labels.update({n: low for n in seen})
    return {n: low for n, low in labels.items() if n != low}


edge_lists = st.lists(
    st.tuples(st.integers(1, 60), st.integers(1, 60)).filter(lambda e: e[0] != e[1]),
    max_size=120,
)


@given(edge_lists)
def test_union_find_labels_every_node_with_its_component_minimum(edges):
    rids, labels = union_find([a for a, _ in edges], [b for _, b in edges])
    assert dict(zip(rids, labels, strict=True)) == reference_labels(edges)


def session_with_edges(edges: list[tuple[int, int]]) -> DedupSession:
    session = DedupSession(duckdb.connect(), "duckdb")
    table = pa.table(
        {
            "rid": pa.array([a for a, _ in edges], pa.int64()),
            "root": pa.array([b for _, b in edges], pa.int64()),
            "rule_idx": pa.array([0] * len(edges), pa.int32()),
        }
    )
    session.create_temp_from_arrow("er_edges", table, "rid BIGINT, root BIGINT, rule_idx INTEGER")
    return session


def labels_of(session: DedupSession) -> dict[int, int]:
    return dict(session.rows("SELECT rid, label FROM er_label"))


@settings(max_examples=30, deadline=None)
@given(edge_lists)
def test_sql_label_propagation_agrees_with_union_find(edges):
    session = session_with_edges(edges)
    components_sql(session)
    by_sql = labels_of(session)
    components_python(session)
    assert by_sql == labels_of(session) == reference_labels(edges)


def test_a_long_chain_converges_in_few_sql_passes():
    chain = [(i + 1, i) for i in range(1, 512)]  # 512 nodes in a line, diameter 511
    session = session_with_edges(chain)
    passes = components_sql(session)
    assert labels_of(session) == {i: 1 for i in range(2, 513)}
    assert passes <= 12  # pointer jumping: logarithmic, not 511


def test_self_edges_link_nothing():
    assert union_find([3, 4], [3, 4]) == ([], [])


def test_fuzzy_pairs_come_only_from_inside_a_block():
    ids = [1, 2, 3, 4, 5]
    blocks = ["a", "a", "a", "b", "b"]
    texts = ["jon smith", "john smith", "mary jones", "jon smith", "john smith"]
    left, right, stats = block_pairs(ids, blocks, texts, scorer="token_sort_ratio", threshold=90)
    assert sorted(zip(left, right, strict=True)) == [(1, 2), (4, 5)]
    assert stats.blocks == 2
    assert stats.comparisons == 3 + 1  # 3 pairs in block a, 1 in block b, none across


def test_threshold_decides_a_fuzzy_match():
    ids, blocks, texts = [1, 2], ["k", "k"], ["katherine lee", "catherine lee"]
    assert score("ratio", *texts) < 95
    assert block_pairs(ids, blocks, texts, scorer="ratio", threshold=95)[0] == []
    assert block_pairs(ids, blocks, texts, scorer="ratio", threshold=85)[0] == [1]


def test_jaro_winkler_uses_the_same_0_to_100_scale():
    assert 90 < score("jaro_winkler", "martha", "marhta") <= 100
    left, _, _ = block_pairs(
        [1, 2], ["x", "x"], ["martha", "marhta"], scorer="jaro_winkler", threshold=90
    )
    assert left == [1]


def test_a_failed_write_transaction_leaves_the_previous_tables():
    session = DedupSession(duckdb.connect(), "duckdb")
    session.execute("CREATE SCHEMA crm")
    session.execute("CREATE TABLE crm.contacts_golden AS SELECT 'old' AS golden_id")
    try:
        with session.transaction():
            session.execute("DROP TABLE crm.contacts_golden")
            session.execute("CREATE TABLE crm.contacts_golden AS SELECT 'new' AS golden_id")
            raise RuntimeError("counts do not balance")
    except RuntimeError:
        pass
    assert session.rows("SELECT golden_id FROM crm.contacts_golden") == [("old",)]

"""Dedup on both warehouses (DuckDB file, real Postgres): same clusters, same golden ids, same
survivors, stable across runs, with both components methods (exact and fuzzy rules); the
shipped, probabilistic contacts rules on DuckDB and a clear refusal on Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from destinations.warehouse import Warehouse
from mappings.dedup import DedupEngine, DedupError, load_match_rules

SHIPPED_RULES = Path(__file__).resolve().parents[2] / "mappings" / "match_rules" / "contacts.yaml"
# Exact and fuzzy rules (the contacts rules shipped before the probabilistic rule): they run on
# both backends, so the parity tests below use them.
EXACT_AND_FUZZY = """\
model: contacts
rules:
  - {name: email_exact, type: exact, fields: [email], normalize: lower_trim, max_group_size: 50}
  - {name: phone_exact, type: exact, fields: [phone], normalize: digits, max_group_size: 5}
  - name: name_fuzzy
    type: fuzzy
    fields: [first_name, last_name]
    block_by:
      - {field: email, normalize: email_domain}
      - {field: last_name, normalize: initial}
    scorer: token_sort_ratio
    threshold: 92
    max_block_size: 200
survivorship:
  default: most_recent
  source_priority: [salesforce, hubspot]
  fields:
    email: {strategy: source_priority}
    first_name: first_non_null
"""
COLUMNS = ["email", "phone", "first_name", "last_name", "city"]
# Mixed-case source names and ids: member-key order must not depend on the database collation.
ROWS = [
    ("hubspot", "H-1", "ann@acme.com", "+15550001", "Ann", "Lee", "Rome", 1),
    ("salesforce", "003a", " ANN@ACME.COM", None, "Ann", "Lee", "Oslo", 3),
    ("salesforce", "003B", None, "+15550001", "Anne", "Lee", None, 2),
    ("hubspot", "h-2", "jon.smith@initech.io", None, "Jon", "Smith", "Bonn", 1),
    ("salesforce", "003c", "john.smith@initech.io", None, "John", "Smith", "Kiel", 2),
    ("hubspot", "Z-9", "solo@example.org", "+15559999", "Sol", "O", None, 1),
    ("Salesforce", "003d", "other@example.org", None, "Max", "Mu", "Graz", 1),
]
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def rows_for_insert(rows):
    return [
        (email, phone, first, last, city, src, f"{src.lower()}-int", sid, BASE + timedelta(days=d))
        for src, sid, email, phone, first, last, city, d in rows
    ]


DDL = (
    "CREATE TABLE crm.contacts (email TEXT, phone TEXT, first_name TEXT, last_name TEXT, "
    "city TEXT, _source TEXT, _source_integration TEXT, _source_id TEXT, "
    "_source_updated_at TIMESTAMPTZ, _mapping TEXT, _loaded_at TIMESTAMPTZ)"
)
INSERT = "INSERT INTO crm.contacts VALUES ({}, 'm', now())".format(", ".join(["%s"] * 9))


def seed(warehouse: Warehouse, rows) -> None:
    if warehouse.kind == "duckdb":
        with duckdb.connect(str(warehouse.duckdb_path)) as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS crm")
            conn.execute(DDL.replace("CREATE TABLE", "CREATE OR REPLACE TABLE"))
            conn.executemany(INSERT.replace("%s", "?"), rows_for_insert(rows))
        return
    with psycopg.connect(warehouse.postgres_url) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS crm")
        conn.execute("DROP TABLE IF EXISTS crm.contacts")
        conn.execute(DDL)
        with conn.cursor() as cur:
            cur.executemany(INSERT, rows_for_insert(rows))


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    return warehouse.query(sql)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "duckdb":
        return Warehouse("duckdb", duckdb_path=tmp_path / "warehouse.duckdb")
    return Warehouse("postgres", postgres_url=request.getfixturevalue("postgres_url"))


def crosswalk(warehouse: Warehouse) -> dict[str, tuple[str, str | None]]:
    return {
        sid: (gid, rule)
        for gid, sid, rule in query(
            warehouse, "SELECT golden_id, _source_id, match_rule FROM crm.contacts_crosswalk"
        )
    }


@pytest.fixture
def exact_and_fuzzy(tmp_path):
    path = tmp_path / "contacts.yaml"
    path.write_text(EXACT_AND_FUZZY)
    return load_match_rules(path)


@pytest.mark.parametrize("components", ["python", "sql"])
def test_exact_and_fuzzy_contact_rules_cluster_and_survive(warehouse, components, exact_and_fuzzy):
    seed(warehouse, ROWS)
    rules = exact_and_fuzzy

    result = DedupEngine(warehouse, components=components).run(rules)

    xw = crosswalk(warehouse)
    assert xw["H-1"][0] == xw["003a"][0] == xw["003B"][0]
    assert xw["h-2"][0] == xw["003c"][0]  # same initech.io domain, "jon" ~ "john"
    assert len({xw[s][0] for s in ("H-1", "h-2", "Z-9", "003d")}) == 4
    assert (xw["003B"][1], xw["003c"][1], xw["Z-9"][1]) == ("phone_exact", "name_fuzzy", None)
    assert (result.records, result.clusters, result.golden_rows) == (7, 4, 4)
    (email, first, city, sources, records) = query(
        warehouse,
        "SELECT email, first_name, city, _sources, _records FROM crm.contacts_golden "
        f"WHERE golden_id = '{xw['H-1'][0]}'",
    )[0]
    # email: source_priority [salesforce, hubspot]; first_name: first_non_null; city: most recent
    assert (email, first, city, sources, records) == (" ANN@ACME.COM", "Ann", "Oslo", 2, 3)


def test_golden_ids_are_the_same_on_both_backends_and_stable(
    tmp_path, postgres_url, exact_and_fuzzy
):
    rules = exact_and_fuzzy
    ids = []
    for warehouse in (
        Warehouse("duckdb", duckdb_path=tmp_path / "w.duckdb"),
        Warehouse("postgres", postgres_url=postgres_url),
    ):
        seed(warehouse, ROWS)
        DedupEngine(warehouse).run(rules)
        first = crosswalk(warehouse)
        # A bridging record joins the solo cluster to Ann's. Both ids were born in the same
        # run, so the smaller one survives and the other is recorded as merged into it.
        seed(
            warehouse,
            [*ROWS, ("salesforce", "003e", "solo@example.org", "+15550001", "Sol", "O", None, 5)],
        )
        result = DedupEngine(warehouse).run(rules)
        second = crosswalk(warehouse)
        survivor = min(first["H-1"][0], first["Z-9"][0])
        assert {second[s][0] for s in ("H-1", "003a", "003B", "Z-9", "003e")} == {survivor}
        assert second["h-2"] == first["h-2"] and second["003d"] == first["003d"]
        assert result.ids.merged == 1
        events = query(
            warehouse, "SELECT previous_id, golden_id, reason FROM crm.contacts_golden_merges"
        )
        retired = max(first["H-1"][0], first["Z-9"][0])
        assert events == [(retired, survivor, "merged")]
        ids.append((first, second))
    assert ids[0] == ids[1]


def test_duplicate_member_keys_collapse_to_the_newest_on_both_backends(warehouse, exact_and_fuzzy):
    newer = ("hubspot", "H-1", "ann@acme.com", "+15550001", "Ann", "Lee", "Newtown", 9)
    seed(warehouse, [*ROWS, newer])
    result = DedupEngine(warehouse).run(exact_and_fuzzy)
    assert (result.rows_in, result.records, result.duplicate_rows) == (8, 7, 1)
    gid = crosswalk(warehouse)["H-1"][0]
    city = query(warehouse, f"SELECT city FROM crm.contacts_golden WHERE golden_id = '{gid}'")
    assert city == [("Newtown",)]


def with_job_titles(warehouse: Warehouse, rows) -> None:
    """The shipped contacts rules also weigh job_title: the same rows with one."""
    seed(warehouse, rows)
    statements = [
        "ALTER TABLE crm.contacts ADD COLUMN job_title TEXT",
        "UPDATE crm.contacts SET job_title = 'engineer'",
    ]
    if warehouse.kind == "duckdb":
        with duckdb.connect(str(warehouse.duckdb_path)) as conn:
            for sql in statements:
                conn.execute(sql)
        return
    with psycopg.connect(warehouse.postgres_url) as conn:
        for sql in statements:
            conn.execute(sql)


# Term-frequency adjustments weigh a value by its share of the table: among 8 records every
# value is common, so the shipped rules are tried among 400 other people.
OTHERS = [
    (
        "hubspot",
        f"x{i}",
        f"person{i}@example{i % 40}.com",
        f"+1212555{i:04d}",
        f"First{i % 97}",
        f"Last{i}",
        f"City{i % 23}",
        1,
    )
    for i in range(400)
]


def test_shipped_probabilistic_contact_rules_on_duckdb(tmp_path):
    warehouse = Warehouse("duckdb", duckdb_path=tmp_path / "w.duckdb")
    # Ann three times with one address (once in another city)
    rows = [*ROWS[:3], ("salesforce", "003a2", "ann@acme.com", None, "Ann", "Lee", "Rome", 4)]
    with_job_titles(warehouse, [*rows, *ROWS[3:], *OTHERS])

    result = DedupEngine(warehouse).run(load_match_rules(SHIPPED_RULES))

    xw = crosswalk(warehouse)
    assert xw["H-1"][0] == xw["003a"][0] == xw["003a2"][0]
    assert xw["H-1"][1] == "person_probabilistic"
    # a different address, another city and no phone: not the same person on names alone
    assert xw["h-2"][0] != xw["003c"][0]
    assert result.rules[0].type == "probabilistic" and result.rules[0].edges >= 2
    weights = query(
        warehouse,
        "SELECT MIN(match_weight) FROM crm.contacts_crosswalk WHERE match_rule IS NOT NULL",
    )
    assert weights[0][0] > 6.6  # the 0.99 threshold as a weight


def test_probabilistic_rules_are_refused_on_postgres_before_writing(postgres_url):
    warehouse = Warehouse("postgres", postgres_url=postgres_url)
    with_job_titles(warehouse, ROWS)

    with pytest.raises(DedupError) as err:
        DedupEngine(warehouse).run(load_match_rules(SHIPPED_RULES))

    assert "probabilistic rules run only on a DuckDB warehouse (this one is postgres)" in str(
        err.value
    )
    tables = query(
        warehouse,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'crm'",
    )
    assert tables == [("contacts",)]

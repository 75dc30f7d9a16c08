"""The dedup engine on a DuckDB warehouse: clusters, survivorship, and golden ids that stay put."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from core.clock import clock
from destinations.warehouse import Warehouse
from mappings.dedup import DedupEngine, DedupError, golden_id_for, load_match_rules

RULES = """\
model: contacts
rules:
  - {name: email_exact, type: exact, fields: [email], normalize: lower_trim}
  - {name: phone_exact, type: exact, fields: [phone], normalize: digits, max_group_size: 3}
  - name: name_fuzzy
    type: fuzzy
    fields: [first_name, last_name]
    block_by: [{field: email, normalize: email_domain}]
    threshold: 90
    max_block_size: 4
survivorship:
  default: most_recent
  source_priority: [salesforce, hubspot]
  fields:
    email: source_priority
    first_name: first_non_null
"""
COLUMNS = ("email", "phone", "first_name", "last_name", "city")


class Contacts:
    """A DuckDB warehouse with `crm.contacts` that tests fill and the engine deduplicates."""

    def __init__(self, root: Path) -> None:
        self.path = root / "warehouse.duckdb"
        rules_path = root / "contacts.yaml"
        rules_path.write_text(RULES)
        self.rules = load_match_rules(rules_path)
        with duckdb.connect(str(self.path)) as conn:
            conn.execute("CREATE SCHEMA crm")
            conn.execute(
                "CREATE TABLE crm.contacts (email VARCHAR, phone VARCHAR, first_name VARCHAR, "
                "last_name VARCHAR, city VARCHAR, _source VARCHAR, _source_integration VARCHAR, "
                "_source_id VARCHAR, _source_updated_at TIMESTAMPTZ, _mapping VARCHAR, "
                "_loaded_at TIMESTAMPTZ)"
            )

    def add(self, source: str, source_id: str, updated: str = "2024-01-01", **values) -> None:
        row = [values.get(c) for c in COLUMNS]
        with duckdb.connect(str(self.path)) as conn:
            conn.execute(
                "INSERT INTO crm.contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'm', now())",
                [*row, source, f"{source}-1", source_id, updated],
            )

    def update(self, source_id: str, **values) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        with duckdb.connect(str(self.path)) as conn:
            conn.execute(
                f"UPDATE crm.contacts SET {sets} WHERE _source_id = ?",
                [*values.values(), source_id],
            )

    def delete(self, source_id: str) -> None:
        with duckdb.connect(str(self.path)) as conn:
            conn.execute("DELETE FROM crm.contacts WHERE _source_id = ?", [source_id])

    def run(self, components: str = "python"):
        return DedupEngine(Warehouse("duckdb", duckdb_path=self.path), components=components).run(
            self.rules
        )

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def ids(self) -> dict[str, str]:
        """source id -> golden id."""
        return dict(self.query("SELECT _source_id, golden_id FROM crm.contacts_crosswalk"))

    def golden(self, source_id: str) -> dict:
        with duckdb.connect(str(self.path), read_only=True) as conn:
            cur = conn.execute(
                "SELECT g.* FROM crm.contacts_golden g JOIN crm.contacts_crosswalk x "
                "USING (golden_id) WHERE x._source_id = ?",
                [source_id],
            )
            names = [d[0] for d in cur.description]
            return dict(zip(names, cur.fetchone(), strict=True))

    def events(self) -> set[tuple]:
        return set(
            self.query("SELECT previous_id, golden_id, reason FROM crm.contacts_golden_merges")
        )


@pytest.fixture
def contacts(tmp_path) -> Iterator[Contacts]:
    clock.freeze(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    try:
        yield Contacts(tmp_path)
    finally:
        clock.reset()


def test_exact_rules_cluster_across_sources_and_fill_the_crosswalk(contacts):
    contacts.add("hubspot", "h1", email="ann@acme.com", phone="+15550001")
    contacts.add("salesforce", "s1", email=" ANN@acme.com ")
    contacts.add("salesforce", "s2", phone="+1 555 0001")  # same digits: same phone key
    contacts.add("hubspot", "h2", email="bob@other.com")

    result = contacts.run()

    ids = contacts.ids()
    assert ids["h1"] == ids["s1"] == ids["s2"] != ids["h2"]
    assert (result.records, result.clusters, result.golden_rows) == (4, 2, 2)
    rules = dict(contacts.query("SELECT _source_id, match_rule FROM crm.contacts_crosswalk"))
    assert rules == {"h1": "email_exact", "s1": "email_exact", "s2": "phone_exact", "h2": None}
    assert contacts.golden("h1")["_sources"] == 2 and contacts.golden("h1")["_records"] == 3


def test_a_new_cluster_id_derives_from_its_smallest_member_key(contacts):
    contacts.add("salesforce", "s9", email="x@y.com")
    contacts.add("hubspot", "h5", email="x@y.com")
    contacts.run()
    # ("hubspot", "hubspot-1", "h5") sorts before the Salesforce member.
    assert contacts.ids()["s9"] == golden_id_for("contacts", "hubspot", "hubspot-1", "h5")


def test_survivorship_strategies_pick_per_field(contacts):
    contacts.add("hubspot", "h1", "2024-03-01", email="a@x.com", first_name="Annie", city="Rome")
    contacts.add("salesforce", "s1", "2024-01-01", email="A@X.com", first_name="Ann", city="Oslo")
    contacts.add("salesforce", "s2", "2024-02-01", email="a@x.com", city=None, phone="+1")

    contacts.run()
    golden = contacts.golden("h1")

    assert golden["email"] == "a@x.com"  # source_priority: newest salesforce record
    assert golden["first_name"] == "Ann"  # first_non_null: the oldest record that has one
    assert golden["city"] == "Rome"  # most_recent non-null (default)
    assert golden["phone"] == "+1"  # the only non-null value
    assert golden["_updated_at"] == datetime(2024, 3, 1, tzinfo=UTC)


def test_ids_survive_an_identical_rerun_and_an_update(contacts):
    contacts.add("hubspot", "h1", email="a@x.com", city="Rome")
    contacts.add("salesforce", "s1", email="a@x.com")
    contacts.add("hubspot", "h2", email="b@x.com")
    contacts.run()
    before = contacts.ids()

    again = contacts.run()
    assert contacts.ids() == before
    assert (again.ids.kept, again.ids.new) == (2, 0)

    contacts.update("h1", city="Paris", _source_updated_at=datetime(2024, 6, 1, tzinfo=UTC))
    contacts.run()
    assert contacts.ids() == before
    assert contacts.golden("h1")["city"] == "Paris"
    assert contacts.events() == set()


def test_a_record_that_bridges_two_clusters_keeps_the_older_id(contacts):
    contacts.add("hubspot", "h1", email="a@x.com")
    contacts.run()
    clock.advance(3600)
    contacts.add("hubspot", "h2", email="b@y.com", phone="+15550002")
    contacts.run()
    older, younger = contacts.ids()["h1"], contacts.ids()["h2"]

    clock.advance(3600)
    contacts.add("salesforce", "s1", email="a@x.com", phone="+15550002")
    result = contacts.run()

    ids = contacts.ids()
    assert ids["h1"] == ids["h2"] == ids["s1"] == older
    assert result.ids.merged == 1
    assert (younger, older, "merged") in contacts.events()
    golden_ids = [r[0] for r in contacts.query("SELECT golden_id FROM crm.contacts_golden")]
    assert golden_ids == [older]


def test_a_merge_of_clusters_born_together_keeps_the_smaller_id(contacts):
    contacts.add("hubspot", "h1", email="a@x.com")
    contacts.add("hubspot", "h2", phone="+15550002")
    contacts.run()
    first = contacts.ids()
    contacts.add("salesforce", "s1", email="a@x.com", phone="+15550002")
    contacts.run()
    assert set(contacts.ids().values()) == {min(first["h1"], first["h2"])}


def test_a_split_gives_the_leaver_a_fresh_id_and_records_it(contacts):
    contacts.add("hubspot", "h1", email="a@x.com")
    contacts.add("salesforce", "s1", email="a@x.com")
    contacts.add("salesforce", "s2", email="a@x.com")
    contacts.run()
    (old,) = set(contacts.ids().values())
    assert old == golden_id_for("contacts", "hubspot", "hubspot-1", "h1")

    contacts.update("h1", email="new@elsewhere.com")  # h1 leaves; s1+s2 are the majority
    result = contacts.run()

    ids = contacts.ids()
    assert ids["s1"] == ids["s2"] == old
    assert ids["h1"] != old  # h1's natural id is taken by its old cluster: a numbered variant
    assert ids["h1"] == golden_id_for("contacts", "hubspot", "hubspot-1", "h1", attempt=1)
    assert (old, ids["h1"], "split") in contacts.events()
    assert result.ids.split == 1


def test_a_vanished_cluster_is_recorded_as_removed(contacts):
    contacts.add("hubspot", "h1", email="a@x.com")
    contacts.add("hubspot", "h2", email="b@x.com")
    contacts.run()
    gone = contacts.ids()["h2"]
    contacts.delete("h2")
    contacts.run()
    assert (gone, None, "removed") in contacts.events()
    assert gone not in contacts.ids().values()


def test_a_rebuild_from_scratch_gives_the_same_ids(contacts):
    for i in range(6):
        contacts.add("hubspot", f"h{i}", email=f"p{i % 3}@x.com")
    contacts.run()
    before = contacts.ids()
    with duckdb.connect(str(contacts.path)) as conn:
        for t in ("contacts_golden", "contacts_crosswalk", "contacts_golden_merges"):
            conn.execute(f"DROP TABLE crm.{t}")
    contacts.run()
    assert contacts.ids() == before


def test_duplicate_member_keys_collapse_to_the_newest(contacts):
    contacts.add("hubspot", "h1", "2024-01-01", email="a@x.com", city="Old")
    contacts.add("hubspot", "h1", "2024-05-01", email="a@x.com", city="New")
    result = contacts.run()
    assert (result.rows_in, result.records, result.duplicate_rows) == (2, 1, 1)
    assert contacts.golden("h1")["city"] == "New"


def test_a_shared_phone_above_the_group_cap_links_nobody(contacts):
    for i in range(4):  # max_group_size is 3: a switchboard
        contacts.add("hubspot", f"h{i}", phone="+18005550000")
    result = contacts.run()
    assert result.clusters == 4
    phone = next(r for r in result.rules if r.rule == "phone_exact")
    assert (phone.skipped_groups, phone.skipped_records) == (1, 4)


def test_fuzzy_names_match_only_inside_a_block_and_large_blocks_are_skipped(contacts):
    contacts.add("hubspot", "h1", email="jon.smith@acme.com", first_name="Jon", last_name="Smith")
    contacts.add("salesforce", "s1", email="j.smith@acme.com", first_name="John", last_name="Smith")
    contacts.add("hubspot", "h2", email="john@other.com", first_name="John", last_name="Smith")
    for i in range(5):  # gmail.com: a block of 5 > max_block_size 4, never compared
        contacts.add("hubspot", f"g{i}", email=f"g{i}@gmail.com", first_name="Al", last_name="Bo")

    result = contacts.run()

    ids = contacts.ids()
    assert ids["h1"] == ids["s1"] != ids["h2"]
    assert len({ids[f"g{i}"] for i in range(5)}) == 5
    fuzzy = next(r for r in result.rules if r.rule == "name_fuzzy")
    assert (fuzzy.edges, fuzzy.comparisons) == (1, 1)
    assert (fuzzy.skipped_groups, fuzzy.skipped_records) == (1, 5)


def test_python_and_sql_components_give_identical_outputs(contacts):
    for i in range(30):
        contacts.add("hubspot", f"h{i}", email=f"p{i % 7}@x.com", phone=f"+1555{i % 11}")
    contacts.run("sql")
    by_sql = contacts.query("SELECT * EXCLUDE (_loaded_at) FROM crm.contacts_golden ORDER BY 1")
    with duckdb.connect(str(contacts.path)) as conn:
        for t in ("contacts_golden", "contacts_crosswalk", "contacts_golden_merges"):
            conn.execute(f"DROP TABLE crm.{t}")
    contacts.run("python")
    assert (
        contacts.query("SELECT * EXCLUDE (_loaded_at) FROM crm.contacts_golden ORDER BY 1")
        == by_sql
    )


def test_missing_table_and_columns_fail_before_writing(contacts, tmp_path):
    empty = Warehouse("duckdb", duckdb_path=tmp_path / "empty.duckdb")
    with pytest.raises(DedupError, match="crm.contacts does not exist"):
        DedupEngine(empty).run(contacts.rules)
    with duckdb.connect(str(contacts.path)) as conn:
        conn.execute("ALTER TABLE crm.contacts DROP COLUMN phone")
    with pytest.raises(DedupError, match="lacks columns phone"):
        contacts.run()
    assert contacts.query(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'contacts_%'"
    ) == [(0,)]


def test_a_record_without_a_source_id_is_an_error_not_a_silent_drop(contacts):
    contacts.add("hubspot", None, email="a@x.com")
    with pytest.raises(DedupError, match="1 rows without _source or _source_id"):
        contacts.run()


def test_a_canonical_column_named_golden_id_is_refused(contacts):
    contacts.add("hubspot", "h1", email="a@x.com")
    with duckdb.connect(str(contacts.path)) as conn:
        conn.execute("ALTER TABLE crm.contacts ADD COLUMN golden_id VARCHAR")
    with pytest.raises(DedupError, match="reserves"):
        contacts.run()


def test_canonical_columns_named_like_engine_internals_survive(contacts):
    contacts.add("hubspot", "h1", email="a@x.com")
    contacts.add("salesforce", "s1", email="a@x.com")
    with duckdb.connect(str(contacts.path)) as conn:
        for column in ("created_at TIMESTAMPTZ", "cluster VARCHAR", "rid VARCHAR"):
            conn.execute(f"ALTER TABLE crm.contacts ADD COLUMN {column}")
        conn.execute("UPDATE crm.contacts SET cluster = 'c-' || _source_id, rid = 'r'")
    contacts.run()
    golden = contacts.golden("h1")
    assert golden["cluster"] in ("c-h1", "c-s1") and golden["rid"] == "r"
    assert "created_at" in golden and golden["_created_at"] is not None

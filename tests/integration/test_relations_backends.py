"""Relations between golden records on both warehouses (DuckDB file, real Postgres): HubSpot
associations and Salesforce lookups resolved through the crosswalks to golden ids, a bridge
table per relation and the primary column on the golden table; unresolved links counted."""

from __future__ import annotations

import pytest

from destinations.warehouse import Warehouse
from mappings.dedup import DedupEngine, load_match_rules_dir
from mappings.dedup.relation_rules import load_relations_dir, parse_relation
from mappings.dedup.relations import RelationError, RelationsEngine, relation_checks_sql
from tests.relations_support import CONTACT_COMPANIES, golden_of, mappings_dir, seed


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "duckdb":
        return Warehouse("duckdb", duckdb_path=tmp_path / "warehouse.duckdb")
    return Warehouse("postgres", postgres_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
def crm(warehouse, tmp_path):
    """The seeded warehouse after dedup of all three models: (warehouse, models, relations)."""
    root = mappings_dir(tmp_path)
    models = load_match_rules_dir(root / "match_rules")
    relations = load_relations_dir(root / "relations", models)
    seed(warehouse)
    for rules in models:
        DedupEngine(warehouse).run(rules)
    return warehouse, models, relations


def bridge(warehouse: Warehouse, table: str, left: str, right: str) -> set[tuple]:
    return {
        (str(a), str(b), bool(p), int(n))
        for a, b, p, n in warehouse.query(
            f"SELECT {left}, {right}, is_primary, _links FROM {table}"
        )
    }


def primary(warehouse: Warehouse, model: str, golden_id: str) -> str | None:
    rows = warehouse.query(
        f"SELECT company_golden_id FROM crm.{model}_golden WHERE golden_id = '{golden_id}'"
    )
    return rows[0][0]


def test_contacts_point_at_the_one_golden_company_of_a_merged_pair(crm):
    warehouse, models, relations = crm

    result = RelationsEngine(warehouse).run(relations, models).by_name("contact_companies")

    acme, globex = golden_of(warehouse, "companies", "C1"), golden_of(warehouse, "companies", "C2")
    assert golden_of(warehouse, "companies", "001A") == acme  # two source companies, one golden
    ann, dee = golden_of(warehouse, "contacts", "H1"), golden_of(warehouse, "contacts", "H4")
    assert golden_of(warehouse, "contacts", "S1") == ann
    pairs = bridge(
        warehouse, "crm.golden_contact_companies", "contact_golden_id", "company_golden_id"
    )
    assert pairs == {
        # HubSpot's association and Salesforce's AccountId both name Acme: one pair, two links
        (ann, acme, True, 2),
        (dee, acme, False, 1),
        (dee, globex, True, 1),  # the link HubSpot marks Primary wins over the unlabeled one
    }
    assert primary(warehouse, "contacts", ann) == acme
    assert primary(warehouse, "contacts", dee) == globex
    bob, cy = golden_of(warehouse, "contacts", "H2"), golden_of(warehouse, "contacts", "H3")
    assert primary(warehouse, "contacts", bob) is None  # no association (its tombstone ignored)
    assert primary(warehouse, "contacts", cy) is None  # its company is unknown
    assert result.rows == 3
    assert result.link_rows == 6  # 5 association rows (tombstone left out) + 1 lookup
    assert (result.unresolved_from, result.unresolved_to) == (1, 1)  # H999; C404
    assert result.unresolved == 2
    assert result.unresolved_ratio == round(2 / 6, 6)
    assert (result.from_golden_rows, result.from_related, result.primary_set) == (4, 2, 2)
    by_link = {s.link: (s.rows, s.unresolved_from, s.unresolved_to) for s in result.links}
    assert by_link == {
        "association hubspot.contact_companies": (5, 1, 1),
        "lookup account_id (salesforce)": (1, 0, 0),
    }


def test_deals_carry_their_company_and_contacts(crm):
    warehouse, models, relations = crm

    run = RelationsEngine(warehouse).run(relations, models)

    deal, other = golden_of(warehouse, "deals", "D1"), golden_of(warehouse, "deals", "D2")
    globex = golden_of(warehouse, "companies", "C2")
    ann, dee = golden_of(warehouse, "contacts", "H1"), golden_of(warehouse, "contacts", "H4")
    assert primary(warehouse, "deals", deal) == globex
    assert primary(warehouse, "deals", other) is None
    contacts = bridge(warehouse, "crm.golden_deal_contacts", "deal_golden_id", "contact_golden_id")
    # many to many: no primary pick without a primary column
    assert contacts == {(deal, ann, False, 1), (deal, dee, False, 1)}
    assert "company_golden_id" not in {
        c
        for (c,) in warehouse.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'crm' "
            "AND table_name = 'companies_golden'"
        )
    }
    result = run.by_name("deal_companies")
    assert (result.links[1].rows, result.links[1].skipped) == (0, [])  # column present, all NULL
    for relation in relations:
        counts = {
            name: warehouse.query(sql)[0][0]
            for name, sql in relation_checks_sql(relation, run.by_name(relation.name)).items()
        }
        assert set(counts.values()) == {0}, (relation.name, counts)


def test_a_rerun_follows_changed_links_and_clears_stale_primaries(crm):
    warehouse, models, relations = crm
    RelationsEngine(warehouse).run(relations, models)
    dee = golden_of(warehouse, "contacts", "H4")
    acme = golden_of(warehouse, "companies", "C1")
    # H4 loses its primary link to Globex; H1's links are gone entirely (Ann keeps the lookup)
    seed(warehouse, contact_companies=[r for r in CONTACT_COMPANIES if r[0] not in ("H1",)][:2])

    RelationsEngine(warehouse).run(relations, models)

    assert primary(warehouse, "contacts", dee) == acme
    ann = golden_of(warehouse, "contacts", "H1")
    assert primary(warehouse, "contacts", ann) == acme  # Salesforce's AccountId still says so
    pairs = bridge(
        warehouse, "crm.golden_contact_companies", "contact_golden_id", "company_golden_id"
    )
    assert pairs == {(ann, acme, True, 1), (dee, acme, True, 1)}


def test_a_dedup_rerun_drops_the_column_and_relations_restore_it(crm):
    warehouse, models, relations = crm
    RelationsEngine(warehouse).run(relations, models)
    DedupEngine(warehouse).run(next(m for m in models if m.model == "contacts"))

    RelationsEngine(warehouse).run(relations, models)

    ann = golden_of(warehouse, "contacts", "H1")
    assert primary(warehouse, "contacts", ann) == golden_of(warehouse, "companies", "C1")


def test_a_declared_column_missing_from_the_link_table_writes_nothing(crm, tmp_path):
    warehouse, models, relations = crm
    RelationsEngine(warehouse).run(relations, models)
    before = sorted(warehouse.query("SELECT * FROM crm.golden_deal_contacts"))
    broken = parse_relation(
        "name: deal_contacts\nfrom: {model: deals, column: deal_golden_id}\n"
        "to: {model: contacts, column: contact_golden_id}\n"
        "links:\n  - {type: association, provider: hubspot, table: deal_contacts, "
        "from_id: deal_id, to_id: person_id}\n"
    )

    with pytest.raises(RelationError, match=r"deal_contacts has no column person_id"):
        RelationsEngine(warehouse).run([relations[0], broken], models)

    assert sorted(warehouse.query("SELECT * FROM crm.golden_deal_contacts")) == before


def test_a_primary_column_the_canonical_table_owns_is_refused(crm):
    warehouse, models, _ = crm
    clash = parse_relation(
        "name: clash\nfrom: {model: contacts, column: contact_golden_id}\n"
        "to: {model: companies, column: company_golden_id}\nprimary_column: full_name\n"
        "links:\n  - {type: lookup, column: account_id}\n"
    )

    with pytest.raises(RelationError, match=r"full_name.*crm.contacts"):
        RelationsEngine(warehouse).run([clash], models)
    # a canonical column the match rules exclude is not in the golden table: free to use
    excluded = parse_relation(
        "name: excluded\nfrom: {model: contacts, column: contact_golden_id}\n"
        "to: {model: companies, column: company_golden_id}\nprimary_column: account_id\n"
        "links:\n  - {type: lookup, column: account_id}\n"
    )
    RelationsEngine(warehouse).run([excluded], models)
    ann = golden_of(warehouse, "contacts", "S1")
    assert warehouse.query(
        f"SELECT account_id FROM crm.contacts_golden WHERE golden_id = '{ann}'"
    ) == [(golden_of(warehouse, "companies", "001A"),)]


def test_relations_need_the_dedup_outputs(warehouse, tmp_path):
    root = mappings_dir(tmp_path)
    models = load_match_rules_dir(root / "match_rules")
    relations = load_relations_dir(root / "relations", models)
    seed(warehouse)

    with pytest.raises(RelationError, match=r"crm.contacts_crosswalk does not exist"):
        RelationsEngine(warehouse).run(relations, models)


def test_links_resolve_within_their_own_integration(crm):
    """Two HubSpot portals reuse record ids: portal B's contact H1 -> C1 is not portal A's."""
    warehouse, models, relations = crm
    lineage = (
        "'hubspot', 'portal-b', '{id}', TIMESTAMPTZ '2024-01-09 00:00:00+00', 'test', "
        "TIMESTAMPTZ '2024-02-01 00:00:00+00'"
    )
    warehouse.execute(
        [
            (sql, None)
            for sql in (
                "INSERT INTO crm.contacts VALUES ('zed@other.net', 'Zed', 'Z', 'Zed Z', NULL, "
                + lineage.format(id="H1")
                + ")",
                "INSERT INTO crm.companies VALUES ('Other', 'other.net', "
                + lineage.format(id="C1")
                + ")",
                "CREATE SCHEMA IF NOT EXISTS raw_hubspot_portal_b",
                "CREATE TABLE raw_hubspot_portal_b.contact_companies (contact_id TEXT, "
                "company_id TEXT, association_type TEXT)",
                "INSERT INTO raw_hubspot_portal_b.contact_companies VALUES "
                "('H1', 'C1', 'contact_to_company')",
            )
        ]
    )
    for rules in models:
        DedupEngine(warehouse).run(rules)

    result = RelationsEngine(warehouse).run(relations, models).by_name("contact_companies")

    ids = {
        (integration, sid): str(gid)
        for gid, integration, sid in warehouse.query(
            "SELECT golden_id, _source_integration, _source_id FROM crm.companies_crosswalk"
        )
    }
    zed, ann = (
        str(
            warehouse.query(
                "SELECT golden_id FROM crm.contacts_crosswalk WHERE _source_integration = "
                f"'{integration}' AND _source_id = 'H1'"
            )[0][0]
        )
        for integration in ("portal-b", "portal-a")
    )
    assert primary(warehouse, "contacts", zed) == ids[("portal-b", "C1")]
    assert primary(warehouse, "contacts", ann) == ids[("portal-a", "C1")]
    assert ids[("portal-b", "C1")] != ids[("portal-a", "C1")]
    assert result.links[0].tables == 2  # one association table per portal


def test_a_canonical_link_table_with_a_boolean_primary(crm):
    warehouse, models, _ = crm
    warehouse.execute(
        [
            (sql, None)
            for sql in (
                "INSERT INTO crm.deals VALUES ('SF deal', NULL, 'salesforce', 'sf-org', '006X', "
                "TIMESTAMPTZ '2024-01-05 00:00:00+00', 'test', TIMESTAMPTZ '2024-02-01 00:00:00+00')",
                "CREATE TABLE crm.opportunity_contact_roles (_source TEXT, _source_integration "
                "TEXT, opportunity_id TEXT, contact_id TEXT, is_primary BOOLEAN)",
                "INSERT INTO crm.opportunity_contact_roles VALUES "
                "('salesforce', 'sf-org', '006X', 'S1', TRUE), "
                "('salesforce', 'sf-org', '006X', 'S404', FALSE)",
            )
        ]
    )
    DedupEngine(warehouse).run(next(m for m in models if m.model == "deals"))
    roles = parse_relation(
        "name: deal_roles\nfrom: {model: deals, column: deal_golden_id}\n"
        "to: {model: contacts, column: contact_golden_id}\n"
        "primary_column: primary_contact_golden_id\n"
        "links:\n  - {type: link_table, table: crm.opportunity_contact_roles, "
        "from_id: opportunity_id, to_id: contact_id, primary: {column: is_primary}}\n"
    )

    result = RelationsEngine(warehouse).run([roles], models).by_name("deal_roles")

    deal, ann = golden_of(warehouse, "deals", "006X"), golden_of(warehouse, "contacts", "S1")
    assert warehouse.query(
        "SELECT deal_golden_id, contact_golden_id, is_primary, primary_links "
        "FROM crm.golden_deal_roles"
    ) == [(deal, ann, True, 1)]
    assert warehouse.query(
        f"SELECT primary_contact_golden_id FROM crm.deals_golden WHERE golden_id = '{deal}'"
    ) == [(ann,)]
    assert (result.link_rows, result.unresolved_to) == (2, 1)


def test_a_relation_within_one_model_leaves_out_links_inside_one_golden_record(crm):
    """A company's parent: Acme's two source records pointing at each other are no relation."""
    warehouse, models, _ = crm
    warehouse.execute(
        [
            ("ALTER TABLE crm.companies ADD COLUMN parent_id TEXT", None),
            ("UPDATE crm.companies SET parent_id = 'C1' WHERE _source_id IN ('C1', 'C2')", None),
        ]
    )
    DedupEngine(warehouse).run(next(m for m in models if m.model == "companies"))
    parents = parse_relation(
        "name: company_parents\nfrom: {model: companies, column: company_golden_id}\n"
        "to: {model: companies, column: parent_golden_id}\n"
        "primary_column: parent_golden_id\n"
        "links:\n  - {type: lookup, column: parent_id}\n"
    )

    result = RelationsEngine(warehouse).run([parents], models).by_name("company_parents")

    acme, globex = golden_of(warehouse, "companies", "C1"), golden_of(warehouse, "companies", "C2")
    assert warehouse.query(
        "SELECT company_golden_id, parent_golden_id FROM crm.golden_company_parents"
    ) == [(globex, acme)]
    assert (result.link_rows, result.self_links, result.unresolved) == (2, 1, 0)
    assert primary_of(warehouse, acme) is None
    assert primary_of(warehouse, globex) == acme


def primary_of(warehouse: Warehouse, company: str) -> str | None:
    return warehouse.query(
        f"SELECT parent_golden_id FROM crm.companies_golden WHERE golden_id = '{company}'"
    )[0][0]

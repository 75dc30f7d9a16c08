"""`platform golden show ID`: a golden record's fields, members with the rule (and, when the
crosswalk has it, the match weight) that linked each, merge history and relations with golden
ids and names; `--json`; an unknown or retired id exits non-zero with a clear message."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import main
from destinations.warehouse import Warehouse
from mappings.dedup import DedupEngine, load_match_rules_dir
from mappings.dedup.relation_rules import load_relations_dir
from mappings.dedup.relations import RelationsEngine
from tests.relations_support import golden_of, mappings_dir, seed


@pytest.fixture(params=["duckdb", "postgres"])
def crm(request, data_dir, tmp_path):
    """A deduplicated, related warehouse and the environment the CLI reads it with."""
    root = mappings_dir(tmp_path)
    env = {"DATA_DIR": str(data_dir), "MAPPINGS_DIR": str(root), "WAREHOUSE": request.param}
    if request.param == "duckdb":
        warehouse = Warehouse("duckdb", duckdb_path=data_dir / "warehouse.duckdb")
    else:
        url = request.getfixturevalue("postgres_url")
        warehouse = Warehouse("postgres", postgres_url=url)
        env["WAREHOUSE_POSTGRES_URL"] = url
    seed(warehouse)
    models = load_match_rules_dir(root / "match_rules")
    for rules in models:
        DedupEngine(warehouse).run(rules)
    RelationsEngine(warehouse).run(load_relations_dir(root / "relations", models), models)
    return warehouse, env


def show(env, *args: str):
    return CliRunner().invoke(main, ["golden", "show", *args], env=env)


def test_a_contact_page_lists_members_rules_and_relations(crm):
    warehouse, env = crm
    ann = golden_of(warehouse, "contacts", "H1")
    acme = golden_of(warehouse, "companies", "C1")
    deal = golden_of(warehouse, "deals", "D1")

    result = show(env, ann)

    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"golden contacts {ann} (crm.contacts_golden)")
    assert f"company_golden_id  {acme}" in out
    members = out.split("members (2):")[1].split("merge history")[0]
    rows = [line.split(" | ") for line in members.strip().splitlines()[2:]]
    assert [(r[0].strip(), r[2].strip(), r[4].strip()) for r in rows] == [
        ("hubspot", "H1", "email_exact"),
        ("salesforce", "S1", "email_exact"),
    ]
    relations = out.split("relations:")[1]
    assert f"contact_companies -> companies (1):\n    {acme}  Acme Inc (primary)" in relations
    assert f"deal_contacts <- deals (1):\n    {deal}  Big deal" in relations


def test_a_merged_company_lists_both_sources_and_its_contacts(crm):
    warehouse, env = crm
    acme = golden_of(warehouse, "companies", "001A")

    result = show(env, acme, "--model", "companies")

    assert result.exit_code == 0, result.output
    assert "members (2):" in result.output
    assert "| 001A " in result.output and "| C1 " in result.output
    contacts = result.output.split("contact_companies <- contacts (2):")[1]
    ann, dee = golden_of(warehouse, "contacts", "H1"), golden_of(warehouse, "contacts", "H4")
    assert f"{ann}  Ann Lee (primary)" in contacts
    assert f"{dee}  Dee Dee\n" in contacts  # Dee's primary company is Globex
    assert "deal_companies <- deals (0):\n    none" in result.output


def test_json_page_shows_match_weights_when_the_crosswalk_has_them(crm):
    warehouse, env = crm
    warehouse.execute(
        [
            # the probabilistic engine writes it; an exact-rules-only crosswalk may lack it
            (
                "ALTER TABLE crm.contacts_crosswalk ADD COLUMN IF NOT EXISTS match_weight DOUBLE PRECISION",
                None,
            ),
            (
                "UPDATE crm.contacts_crosswalk SET match_weight = CASE _source_id WHEN 'S1' "
                "THEN 7.5 END",
                None,
            ),
        ]
    )
    ann = golden_of(warehouse, "contacts", "S1")

    result = show(env, ann, "--json")

    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    assert (page["model"], page["golden_id"]) == ("contacts", ann)
    assert page["fields"]["email"] == "ANN@acme.com"  # most recent member: Salesforce
    assert [(m["_source_id"], m["match_rule"], m["match_weight"]) for m in page["members"]] == [
        ("H1", "email_exact", None),
        ("S1", "email_exact", 7.5),
    ]
    by_name = {(r["relation"], r["direction"]): r for r in page["relations"]}
    company = by_name[("contact_companies", "to")]
    assert company["total"] == 1
    assert company["records"][0]["name"] == "Acme Inc"
    assert company["records"][0]["links"] == 2
    assert by_name[("deal_contacts", "from")]["records"][0]["name"] == "Big deal"
    text = show(env, ann).output
    assert "| match rule  | match weight" in text
    assert "| email_exact | 7.5" in text


def test_an_unknown_id_is_a_clear_error(crm):
    _, env = crm

    result = show(env, "no-such-id")

    assert result.exit_code == 1
    assert "no golden record with id no-such-id" in result.output
    assert "crm.contacts_golden" in result.output


def test_a_retired_id_says_where_it_went_and_shows_in_the_history(crm):
    warehouse, env = crm
    acme = golden_of(warehouse, "companies", "C1")
    warehouse.execute(
        [
            (
                "INSERT INTO crm.companies_golden_merges VALUES "
                f"('old-acme', '{acme}', 'merged', TIMESTAMPTZ '2024-03-01 00:00:00+00')",
                None,
            )
        ]
    )

    retired = show(env, "old-acme")
    page = show(env, acme)

    assert retired.exit_code == 1
    assert f"old-acme is no longer a golden companies id: merged into {acme}" in retired.output
    assert "merge history (1):" in page.output
    assert "merged   old-acme -> this id" in page.output


def test_model_option_narrows_the_search_and_rejects_unknown_models(crm):
    warehouse, env = crm
    ann = golden_of(warehouse, "contacts", "H1")

    wrong = show(env, ann, "--model", "companies")
    unknown = show(env, ann, "--model", "people")

    assert wrong.exit_code == 1
    assert "searched crm.companies_golden)" in wrong.output
    assert unknown.exit_code == 2
    assert "no match rules for 'people'" in unknown.output


def test_long_relation_lists_are_cut_and_missing_bridges_are_named(crm):
    warehouse, env = crm
    acme = golden_of(warehouse, "companies", "C1")
    warehouse.execute([("DROP TABLE crm.golden_deal_companies", None)])

    result = show(env, acme, "--limit", "1")

    assert result.exit_code == 0, result.output
    assert "contact_companies <- contacts (2):" in result.output
    assert "    ... and 1 more (--limit)" in result.output
    assert "deal_companies <- deals: crm.golden_deal_companies not built yet" in result.output

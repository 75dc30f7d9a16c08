"""Relation files (`mappings/relations/*.yaml`): the shipped ones load against the shipped match
rules; a mistake names the file, the line and the field, like mapping and match-rule files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.dedup import load_match_rules_dir
from mappings.dedup.relation_rules import (
    RelationFileError,
    load_relations_dir,
    parse_relation,
)
from mappings.dedup.rules import parse_match_rules

ROOT = Path(__file__).resolve().parents[2] / "mappings"
MODELS = [
    parse_match_rules(f"model: {m}\nrules:\n  - {{name: r, type: exact, fields: [name]}}\n")
    for m in ("contacts", "companies", "deals")
]
GOOD = """\
name: deal_contacts
from: {model: deals, column: deal_golden_id}
to: {model: contacts, column: contact_golden_id}
links:
  - type: association
    provider: hubspot
    table: deal_contacts
    from_id: deal_id
    to_id: contact_id
"""


def test_shipped_relations_load_against_the_shipped_match_rules():
    models = load_match_rules_dir(ROOT / "match_rules")
    relations = {r.name: r for r in load_relations_dir(ROOT / "relations", models)}
    assert set(relations) == {"contact_companies", "deal_companies", "deal_contacts"}
    assert relations["contact_companies"].primary_column == "company_golden_id"
    assert relations["deal_contacts"].primary_column is None
    assert relations["deal_contacts"].bridge == "crm.golden_deal_contacts"


def test_defaults_bridge_table_from_the_name():
    relation = parse_relation(GOOD)
    assert relation.bridge == "crm.golden_deal_contacts"
    assert relation.max_unresolved_ratio == 0.05


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (GOOD.replace("type: association", "type: assoc"), r"x.yaml:5: links\[0\]: Input tag"),
        (
            GOOD.replace("    to_id: contact_id\n", ""),
            r"x.yaml:5: links\[0\].to_id: Field required",
        ),
        (
            GOOD.replace("column: contact_golden_id", "column: deal_golden_id"),
            r"x.yaml:3: to.column: from.column and to.column are both",
        ),
        (GOOD + "primary_column: _secret\n", r"x.yaml:10: primary_column: '_secret' is reserved"),
        (GOOD + "primary_column: golden_id\n", r"x.yaml:10: primary_column: 'golden_id' is"),
        (GOOD.replace("provider: hubspot", "provider: Hub-Spot"), r"x.yaml:6: links\[0\].provider"),
        (GOOD + "colour: red\n", r"x.yaml:10: colour: Extra inputs are not permitted"),
        (GOOD.replace("from:", "frm:"), r"x.yaml:1: from: Field required"),
        (
            GOOD + "    primary: {column: association_type, labels: []}\n",
            r"x.yaml:10: links\[0\].primary.labels: List should have at least 1 item",
        ),
        ("name: [\n", r"x.yaml:\d+: <root>: not valid YAML"),
    ],
)
def test_a_mistake_names_file_line_and_field(text, where):
    with pytest.raises(RelationFileError, match=where):
        parse_relation(text, "x.yaml")


def test_an_unknown_model_names_the_line_of_its_model(tmp_path):
    (tmp_path / "deal_contacts.yaml").write_text(GOOD.replace("model: contacts", "model: people"))
    with pytest.raises(RelationFileError) as caught:
        load_relations_dir(tmp_path, MODELS)

    assert str(caught.value).startswith(f"{tmp_path / 'deal_contacts.yaml'}:3: to.model: ")
    assert "no match rules for model 'people'" in str(caught.value)


def test_two_files_with_one_name_or_one_bridge_table_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(RelationFileError, match=r"b.yaml:1: name: 'deal_contacts' already"):
        load_relations_dir(tmp_path)
    (tmp_path / "b.yaml").write_text(
        GOOD.replace("name: deal_contacts", "name: other\ntable: crm.golden_deal_contacts")
    )
    with pytest.raises(RelationFileError, match=r"b.yaml:2: table: bridge table"):
        load_relations_dir(tmp_path)


def test_two_relations_writing_one_primary_column_are_refused(tmp_path):
    one = GOOD + "primary_column: contact_golden_id\n"
    (tmp_path / "a.yaml").write_text(one)
    (tmp_path / "b.yaml").write_text(one.replace("name: deal_contacts", "name: other"))
    with pytest.raises(RelationFileError, match=r"b.yaml:10: primary_column: .*also written"):
        load_relations_dir(tmp_path, MODELS)


def test_a_missing_directory_means_no_relations(tmp_path):
    assert load_relations_dir(tmp_path / "absent") == []

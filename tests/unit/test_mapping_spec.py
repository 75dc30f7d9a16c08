"""Mapping files: the shipped ones load, and every kind of mistake is reported with the file,
the line and the dotted field it concerns."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings import MappingFileError, load_mapping, load_mappings, parse_mapping
from mappings.spec import field_order

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"

VALID = """\
name: people
source:
  provider: hubspot
  table: contacts
target: crm.people
key: email
where: "archived = false"
fields:
  email:
    source: properties.email
    functions: [email_normalize]
    on_error: reject
  first_name:
    source: properties.firstname
    functions: [trim]
  full_name:
    template: "{{ first_name }} {{ last_name }}"
  last_name:
    source: properties.lastname
  amount:
    source: properties.amount
    type: decimal
    precision: 12
    scale: 2
    on_error: default
    default: 0
  is_customer:
    type: boolean
    when: "properties.lifecyclestage = 'customer'"
    then: {value: true}
    else: {value: false}
rules:
  - {rule: required, field: email}
  - {rule: range, field: amount, min: 0, severity: warn}
  - {rule: cross_field, expression: "amount >= 0 or is_customer", severity: warn}
"""


def broken(replace: str, by: str) -> str:
    assert replace in VALID, replace
    return VALID.replace(replace, by, 1)


def error_of(text: str) -> MappingFileError:
    with pytest.raises(MappingFileError) as caught:
        parse_mapping(text, "people.yaml")
    return caught.value


def test_the_shipped_mappings_load_and_target_the_canonical_tables():
    specs = {s.name: s for s in load_mappings(SHIPPED)}
    assert {s.target for s in specs.values()} >= {"crm.contacts", "crm.companies", "crm.deals"}
    contacts = specs["hubspot_contacts"]
    assert {"email", "phone", "first_name", "last_name", "full_name"} <= set(contacts.fields)
    assert contacts.source.provider == "hubspot" and contacts.source.table == "contacts"


def test_a_valid_file_loads_with_templates_ordered_after_their_inputs():
    spec = parse_mapping(VALID, "people.yaml")
    order = field_order(spec)
    assert order.index("full_name") > order.index("last_name")
    assert spec.key == ["email"]
    assert spec.rule_names() == ["email_required", "amount_range", "cross_field_3"]
    assert spec.line_of("fields", "amount", "precision") == 23


@pytest.mark.parametrize(
    ("mistake", "fix", "line", "field", "words"),
    [
        ("type: decimal", "type: money", 22, "fields.amount.type", "Input should be"),
        (
            "functions: [trim]",
            "functions: [trimm]",
            15,
            "fields.first_name.functions[0]",
            "unknown function 'trimm'",
        ),
        (
            "{rule: required, field: email}",
            "{rule: required, field: e_mail}",
            33,
            "rules[0].field",
            "unknown field 'e_mail'",
        ),
        (
            "{rule: required, field: email}",
            "{rule: mandatory, field: email}",
            33,
            "rules[0]",
            "does not match any of the expected tags",
        ),
        (
            'where: "archived = false"',
            "where: \"archived = 'no'\"",
            7,
            "where",
            "cannot compare boolean with string",
        ),
        (
            "{{ first_name }} {{ last_name }}",
            "{{ first_name }} {{ surname }}",
            17,
            "fields.full_name.template",
            "unknown field 'surname'",
        ),
        ("scale: 2", "scale: 20", 20, "fields.amount", "scale must not exceed precision"),
        ("default: 0", "default: zero", 26, "fields.amount.default", "is not a decimal"),
        ("key: email", "key: mail", 6, "key[0]", "key 'mail' is not a field"),
        (
            "then: {value: true}",
            "then: {value: maybe}",
            30,
            "fields.is_customer.then.value",
            "is not a boolean",
        ),
        (
            "amount >= 0 or is_customer",
            "amount >= 'x'",
            35,
            "rules[2].expression",
            "cannot compare decimal with string",
        ),
        (
            "    source: properties.lastname",
            "    source: properties.lastname\n    value: x",
            18,
            "fields.last_name",
            "give exactly one of source, value, template, when",
        ),
        ("target: crm.people", "target: people", 5, "target", "String should match pattern"),
    ],
)
def test_mistakes_name_the_file_line_and_field(mistake, fix, line, field, words):
    error = error_of(broken(mistake, fix))
    assert (error.file, error.line, error.field) == ("people.yaml", line, field)
    assert words in error.detail
    assert str(error).startswith(f"people.yaml:{line}: {field}: ")


def test_template_cycles_are_reported():
    text = broken('template: "{{ first_name }} {{ last_name }}"', 'template: "{{ last_name }}"')
    text = text.replace("    source: properties.lastname", '    template: "{{ full_name }}"')
    error = error_of(text)
    assert "cycle" in error.detail and error.field.startswith("fields.")


def test_yaml_syntax_errors_name_their_line():
    error = error_of(VALID.replace("  table: contacts", "  table: [contacts"))
    assert error.line is not None and error.line >= 4
    assert "not valid YAML" in error.detail


def test_a_file_must_be_a_mapping_and_names_default_to_the_file_stem(tmp_path):
    path = tmp_path / "my_contacts.yaml"
    path.write_text(VALID.replace("name: people\n", ""))
    assert load_mapping(path).name == "my_contacts"
    path.write_text("- just\n- a list\n")
    with pytest.raises(MappingFileError, match="a mapping file is a YAML mapping"):
        load_mapping(path)


def test_two_files_with_one_mapping_name_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "ignored.yaml").write_text("not: a mapping")
    with pytest.raises(MappingFileError, match="also used by"):
        load_mappings(tmp_path)


def test_on_error_null_written_bare_in_yaml_means_null():
    spec = parse_mapping(broken("on_error: reject", "on_error: null"), "people.yaml")
    assert spec.fields["email"].on_error == "null"

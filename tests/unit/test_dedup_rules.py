"""Match-rule files: the shipped ones load, and every kind of mistake names file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.dedup import MatchRuleFileError, load_match_rules, load_match_rules_dir
from mappings.dedup.rules import ExactRule, FuzzyRule

SHIPPED = Path(__file__).resolve().parents[2] / "mappings" / "match_rules"

VALID = """\
model: contacts
rules:
  - name: email_exact
    type: exact
    fields: [email]
  - name: name_fuzzy
    type: fuzzy
    fields: [first_name, last_name]
    block_by:
      - {field: email, normalize: email_domain}
    threshold: 90
survivorship:
  default: most_recent
  source_priority: [salesforce, hubspot]
  fields:
    email: source_priority
    phone: {strategy: source_priority, sources: [hubspot]}
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_rule_files_load_one_per_model():
    loaded = load_match_rules_dir(SHIPPED)
    assert "contacts" in {r.model for r in loaded}
    for rules in loaded:
        assert rules.golden == f"{rules.source}_golden"
        assert rules.crosswalk == f"{rules.source}_crosswalk"


def test_a_valid_file_gives_typed_rules_and_defaults(tmp_path):
    rules = load_match_rules(write(tmp_path, VALID))
    exact, fuzzy = rules.rules
    assert isinstance(exact, ExactRule) and exact.normalize == "lower_trim"
    assert isinstance(fuzzy, FuzzyRule) and fuzzy.scorer == "token_sort_ratio"
    assert rules.source == "crm.contacts"
    assert rules.merges == "crm.contacts_golden_merges"
    assert rules.referenced_fields() == {"email", "first_name", "last_name"}
    surv = rules.survivorship
    assert surv.for_field("email").sources == ["salesforce", "hubspot"]
    assert surv.for_field("phone").sources == ["hubspot"]
    assert surv.for_field("city").strategy == "most_recent"


def test_unknown_normalizer_names_the_line_and_field(tmp_path):
    path = write(
        tmp_path, VALID.replace("fields: [email]", "fields: [email]\n    normalize: soundex")
    )
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(path)
    assert err.value.line == 6
    assert err.value.field == "rules[0].normalize"
    assert str(path) in str(err.value) and ":6:" in str(err.value)


def test_an_unknown_key_is_rejected_at_its_line(tmp_path):
    path = write(tmp_path, VALID.replace("    threshold: 90", "    treshold: 90"))
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(path)
    assert err.value.field == "rules[1].treshold"
    assert err.value.line == 11


def test_threshold_out_of_range_is_rejected(tmp_path):
    path = write(tmp_path, VALID.replace("threshold: 90", "threshold: 190"))
    with pytest.raises(MatchRuleFileError, match=r"rules\[1\]\.threshold"):
        load_match_rules(path)


def test_source_priority_without_a_source_list_is_rejected(tmp_path):
    text = VALID.replace("  source_priority: [salesforce, hubspot]\n", "")
    with pytest.raises(MatchRuleFileError, match="'email' uses source_priority"):
        load_match_rules(write(tmp_path, text))


def test_repeated_rule_names_are_rejected(tmp_path):
    text = VALID.replace("name: name_fuzzy", "name: email_exact")
    with pytest.raises(MatchRuleFileError, match="repeated: email_exact"):
        load_match_rules(write(tmp_path, text))


def test_a_fuzzy_rule_needs_a_blocking_key(tmp_path):
    text = VALID.replace("    block_by:\n      - {field: email, normalize: email_domain}\n", "")
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(write(tmp_path, text))
    assert err.value.field == "rules[1].block_by"


def test_broken_yaml_names_its_line(tmp_path):
    path = write(tmp_path, "model: contacts\nrules:\n  - name: [unclosed\n")
    with pytest.raises(MatchRuleFileError, match="not valid YAML") as err:
        load_match_rules(path)
    assert err.value.line is not None and err.value.line >= 3


def test_two_files_for_one_model_are_rejected(tmp_path):
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    with pytest.raises(MatchRuleFileError, match="already declared"):
        load_match_rules_dir(tmp_path)


def test_a_bad_table_name_is_rejected(tmp_path):
    path = write(tmp_path, VALID.replace("model: contacts", "model: contacts\nsource_table: crm"))
    with pytest.raises(MatchRuleFileError) as err:
        load_match_rules(path)
    assert (err.value.field, err.value.line) == ("source_table", 2)

"""The `pii:` section of a mapping file: kinds and policies validated with file:line errors, and
how the declarations of several mappings combine for one canonical table."""

from __future__ import annotations

import pytest

from mappings.errors import MappingFileError
from mappings.spec import parse_mapping
from privacy.policy import PrivacyPolicyError, collect_policies, email_hash

BASE = """name: people
source: {provider: hubspot, table: contacts}
target: crm.people
fields:
  email: {source: properties.email}
  score: {source: properties.score, type: integer}
"""


def mapping(pii: str, name: str = "people", path: str = "people.yaml"):
    return parse_mapping(BASE.replace("name: people", f"name: {name}") + pii, path)


def error_of(pii: str) -> str:
    with pytest.raises(MappingFileError) as caught:
        mapping(pii)
    return str(caught.value)


def test_a_pii_section_declares_kind_and_policy_per_field():
    spec = mapping(
        "pii:\n  email: {kind: email, policy: mask}\n  score: {kind: other, policy: hash}\n"
    )
    assert {n: (p.kind, p.policy) for n, p in spec.pii.items()} == {
        "email": ("email", "mask"),
        "score": ("other", "hash"),
    }
    assert mapping("").pii == {}


@pytest.mark.parametrize(
    ("pii", "expected"),
    [
        (
            "pii:\n  mail: {kind: email, policy: mask}\n",
            "people.yaml:8: pii.mail: unknown field 'mail'",
        ),
        (
            "pii:\n  email: {kind: mail, policy: mask}\n",
            "people.yaml:8: pii.email.kind: Input should be 'email', 'phone', 'name', 'address' or 'other'",
        ),
        (
            "pii:\n  email: {kind: email, policy: blur}\n",
            "people.yaml:8: pii.email.policy: Input should be 'keep', 'mask' or 'hash'",
        ),
        (
            "pii:\n  score: {kind: other, policy: mask}\n",
            "people.yaml:8: pii.score.policy: mask applies to text fields only",
        ),
        ("pii:\n  email: {kind: email, policy: mask, note: x}\n", "pii.email.note: Extra inputs"),
        ("pii:\n  email: {kind: email}\n", "people.yaml:8: pii.email"),
    ],
)
def test_pii_mistakes_name_file_line_and_field(pii, expected):
    assert expected in error_of(pii)


def test_policies_of_mappings_writing_one_table_combine_strictest_first():
    keep = mapping("pii:\n  email: {kind: email, policy: keep}\n", "a", "a.yaml")
    hashed = mapping("pii:\n  email: {kind: email, policy: hash}\n", "b", "b.yaml")
    masked = mapping("pii:\n  email: {kind: email, policy: mask}\n", "c", "c.yaml")

    column = collect_policies([keep, hashed, masked])["crm.people"]["email"]

    assert (column.kind, column.policy) == ("email", "hash")
    assert column.declared_in == ("a.yaml", "b.yaml", "c.yaml")


def test_conflicting_kinds_for_one_column_are_an_error_naming_both_files():
    a = mapping("pii:\n  email: {kind: email, policy: keep}\n", "a", "a.yaml")
    b = mapping("pii:\n  email: {kind: other, policy: keep}\n", "b", "b.yaml")
    with pytest.raises(PrivacyPolicyError, match=r"crm.people.email .*'other' in b.yaml .*a.yaml"):
        collect_policies([a, b])


def test_email_hash_is_the_mapping_hash_of_the_normalized_address():
    from mappings.functions import FunctionContext
    from mappings.reference import run_reference

    spec = parse_mapping(
        BASE + "  hashed: {source: properties.email, functions: [email_normalize, hash]}\n",
        "people.yaml",
    )
    out = run_reference(
        spec,
        [{"id": "1", "properties__email": " Ann@Example.com "}],
        context=FunctionContext(salt="s3cret"),
    )
    assert out.rows[0]["hashed"] == email_hash("ANN@example.com ", "s3cret")


def test_a_quarantined_record_holds_the_address_only_as_a_whole_value():
    from privacy.erasure import _record_holds

    assert _record_holds('{"properties": {"email": " Ann@Example.com"}}', "ann@example.com")
    assert not _record_holds('{"properties": {"email": "joann@example.com"}}', "ann@example.com")
    assert not _record_holds('{"note": "write to ann@example.com"}', "ann@example.com")
    assert not _record_holds("not json", "ann@example.com")

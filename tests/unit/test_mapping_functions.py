"""Mapping functions: their reference semantics, the SQL fast paths for e-mail and phone held to
email-validator and phonenumbers on thousands of inputs, and custom functions registered by
decorator or entry point."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import FAILED, mapping_function
from mappings.errors import MappingFileError
from mappings.functions import FunctionContext, get_function, registry, unregister
from mappings.functions.builtins import domain_of
from mappings.functions.email import normalize_email
from mappings.functions.phone import normalize_phone
from mappings.spec import parse_mapping
from tests.unit.test_mapping_support import engine_and_reference, one_column_records


def single_field(functions: str, type_: str = "string", on_error: str = "reject") -> str:
    return f"""
source: {{provider: hubspot, table: contacts}}
target: crm.things
fields:
  value:
    source: properties.value
    functions: {functions}
    type: {type_}
    on_error: {on_error}
"""


def scalar(name: str, raw_config=None, context: FunctionContext | None = None):
    definition = get_function(name)
    return definition.python(definition.parse_config(raw_config), context or FunctionContext())


# --- reference semantics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.Example.com/path?q=1", "example.com"),
        ("ada@Mail.Example.org", "mail.example.org"),
        ("example.com:8080", "example.com"),
        ("http://user@host.io/x", "host.io"),
        ("www.acme.co.uk.", "acme.co.uk"),
        ("  ", None),
    ],
)
def test_domain_takes_the_host_of_a_url_or_an_email(text, expected):
    assert domain_of(text) == expected


def test_domain_in_sql_equals_the_reference(tmp_path):
    values = [
        "https://www.Example.com/path?q=1",
        "HTTP://Example.com",
        "a@b@c.com/x",
        "host:",
        "www.",
        ".",
        "www.x.com.",
        "ftp://user:pw@files.example.net:21/dir",
        "example.com#top",
        "ada@Mail.Example.org",
        " www.acme.co.uk. ",
        "",
        None,
        "a/b?c#d:1",
        "://x",
    ]
    spec = parse_mapping(single_field("[domain]", on_error="null"), "domain.yaml")
    _, rows, expected = engine_and_reference(tmp_path, spec, *one_column_records(values))
    assert rows == expected


def test_email_normalize_validates_and_lowercases_and_empty_is_null():
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    assert normalize_email("no-at-sign") is FAILED
    assert normalize_email("a@localhost") is FAILED
    assert normalize_email(" ") is None


def test_phone_normalize_gives_e164_in_the_default_region_and_fails_invalid_numbers():
    assert normalize_phone("(212) 736-5000", "US") == "+12127365000"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("020 7946 0958", "US") is FAILED
    assert normalize_phone("call me", "US") is FAILED
    assert normalize_phone("", "US") is None


def test_hash_is_salted_with_the_secret_key_unless_told_otherwise():
    salted = scalar("hash", None, FunctionContext(salt="k1"))
    other_salt = scalar("hash", None, FunctionContext(salt="k2"))
    plain = scalar("hash", {"salt": False}, FunctionContext(salt="k1"))
    assert salted("ada@example.com") != other_salt("ada@example.com")
    assert plain("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_split_trims_and_drops_empty_items_and_join_skips_nulls():
    assert scalar("split", ";")(" a ; ;b;") == ["a", "b"]
    assert scalar("join", " | ")(["a", None, "b"]) == "a | b"


def test_parse_date_tries_formats_in_order_and_fails_when_none_match():
    to_date = scalar("parse_date", {"formats": ["%d/%m/%Y", "%Y%m%d"]})
    assert to_date("15/01/2024") == date(2024, 1, 15)
    assert to_date("20240115") == date(2024, 1, 15)
    assert to_date("January") is FAILED
    to_moment = scalar("parse_date", {"formats": ["%Y-%m-%d %H:%M%z"], "output": "datetime"})
    assert to_moment("2024-01-15 10:00+0200") == datetime(2024, 1, 15, 8, tzinfo=UTC)


# --- SQL fast paths against the libraries ----------------------------------------------------


def nanp_variants(rng: random.Random, count: int) -> list[str]:
    """North American numbers in the shapes people type, over every area code."""
    shapes = [
        "({a}) {e}-{s}",
        "{a}.{e}.{s}",
        "+1 {a} {e} {s}",
        "1-{a}-{e}-{s}",
        "{a}{e}{s}",
        "+1{a}{e}{s}",
        " ({a}){e} {s} ",
        "1 ({a}) {e}-{s}",
        "+1-{a}-{e}-{s} ext. 12",
        "{a}-{e}-{s}.",
        "0{a}{e}{s}",
        "+{a}{e}{s}",
    ]
    out = []
    for _ in range(count):
        area = f"{rng.randint(0, 999):03d}"
        exchange = f"{rng.randint(0, 999):03d}"
        station = f"{rng.randint(0, 9999):04d}"
        out.append(rng.choice(shapes).format(a=area, e=exchange, s=station))
    return out


def test_phone_fast_path_equals_phonenumbers_on_thousands_of_north_american_numbers(tmp_path):
    values = nanp_variants(random.Random(7), 3000) + [
        "+44 20 7946 0958",
        "011 44 20 7946 0958",
        "1 800 FLOWERS",
        "+1 (268) 464-1234",
        "(787) 555-0100",
        "+1 416 555 0199",
        "n/a",
        "",
    ]
    spec = parse_mapping(single_field("[phone_normalize]", on_error="null"), "phone.yaml")
    result, rows, expected = engine_and_reference(tmp_path, spec, *one_column_records(values))
    assert rows == expected


def test_plain_north_american_numbers_never_reach_python(tmp_path):
    rng = random.Random(3)
    values = [
        rng.choice(["({a}) {e}-{s}", "+1 {a}.{e}.{s}", "1{a}{e}{s}"]).format(
            a=rng.randint(200, 999), e=f"{rng.randint(0, 999):03d}", s=f"{rng.randint(0, 9999):04d}"
        )
        for _ in range(500)
    ] + ["", "no digits here"]
    spec = parse_mapping(single_field("[phone_normalize]", on_error="null"), "phone.yaml")
    result, rows, expected = engine_and_reference(tmp_path, spec, *one_column_records(values))
    assert rows == expected
    assert sum(n.distinct_inputs for n in result.python_nodes) == 0


def test_phone_fast_path_respects_a_non_north_american_default_region(tmp_path):
    values = ["020 7946 0958", "(212) 736-5000", "+1 212 736 5000", "2127365000", "07911 123456"]
    spec = parse_mapping(single_field("[phone_normalize]", on_error="null"), "phone.yaml")
    _, rows, expected = engine_and_reference(
        tmp_path, spec, *one_column_records(values), phone_region="GB"
    )
    assert rows == expected
    assert [r["value"] for r in rows][:3] == ["+442079460958", None, "+12127365000"]


phone_text = st.text(alphabet="0123456789 +-().x#/ext1", min_size=0, max_size=22)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(phone_text, min_size=1, max_size=60))
def test_phone_fast_path_equals_phonenumbers_on_random_phone_like_text(tmp_path_factory, values):
    spec = parse_mapping(single_field("[phone_normalize]", on_error="null"), "phone.yaml")
    root = tmp_path_factory.mktemp("phone")
    _, rows, expected = engine_and_reference(root, spec, *one_column_records(values))
    assert rows == expected


def random_emails(rng: random.Random, count: int) -> list[str]:
    local_chars = "abcXYZ019._+-'!#&é"
    domain_chars = "abcxyz019-.é"
    tlds = ["com", "org", "CO", "test", "local", "xn--p1ai", "c", "123", "museum", "onion"]
    out = []
    for _ in range(count):
        local = "".join(rng.choice(local_chars) for _ in range(rng.randint(0, 12)))
        if rng.random() < 0.05:
            local = "a" * rng.randint(60, 70)
        labels = [
            "".join(rng.choice(domain_chars) for _ in range(rng.randint(0, 10)))
            for _ in range(rng.randint(1, 3))
        ]
        if rng.random() < 0.05:
            labels[0] = "b" * rng.randint(60, 66)
        at = rng.choice(["@", "@", "@", "", "@@"])
        text = f"{local}{at}{'.'.join(labels)}.{rng.choice(tlds)}"
        if rng.random() < 0.2:
            text = f"  {text.upper()} "
        out.append(text)
    return out


def test_email_fast_path_equals_email_validator_on_thousands_of_addresses(tmp_path):
    values = random_emails(random.Random(11), 3000) + [
        "ada@example.com",
        " Ada@Example.COM ",
        "a@b.test",
        "a..b@example.com",
        '"q"@example.com',
    ]
    spec = parse_mapping(single_field("[email_normalize]", on_error="null"), "email.yaml")
    _, rows, expected = engine_and_reference(tmp_path, spec, *one_column_records(values))
    assert rows == expected


# --- custom functions ------------------------------------------------------------------------


@pytest.fixture
def custom_functions():
    @mapping_function("test_initials")
    def initials(values, separator=""):
        """Initials of each word (vectorized)."""
        return [separator.join(w[0].upper() for w in v.split()) for v in values.to_pylist()]

    @mapping_function("test_positive", vectorized=False, returns="integer")
    def positive(value):
        """A positive integer, or a failure."""
        number = int(value)
        if number <= 0:
            raise ValueError("not positive")
        return number

    @mapping_function("test_flagged")
    def flagged(values):
        """Vectorized with explicit failures: '!' marks a bad value."""
        texts = values.to_pylist()
        return [t.strip("!") for t in texts], [t.startswith("!") for t in texts]

    yield
    for name in ("test_initials", "test_positive", "test_flagged"):
        unregister(name)


def test_custom_functions_run_the_same_in_the_engine_and_the_reference(tmp_path, custom_functions):
    values = ["ada king lovelace", "grace hopper", None, "  "]
    spec = parse_mapping(
        single_field("[{test_initials: {separator: .}}]", on_error="null"), "custom.yaml"
    )
    _, rows, expected = engine_and_reference(tmp_path, spec, *one_column_records(values))
    assert rows == expected
    assert [r["value"] for r in rows] == ["A.K.L", "G.H", None, ""]


def test_scalar_and_vectorized_custom_functions_mark_failures(tmp_path, custom_functions):
    positive = parse_mapping(
        single_field("[test_positive]", type_="integer", on_error="reject"), "p.yaml"
    )
    result, rows, expected = engine_and_reference(
        tmp_path / "p", positive, *one_column_records(["3", "-1", "7"])
    )
    assert rows == expected and [r["value"] for r in rows] == [3, 7]
    assert result.rejected_by_rule == {"value_invalid": 1}
    flagged = parse_mapping(single_field("[test_flagged]", on_error="reject"), "f.yaml")
    result, rows, expected = engine_and_reference(
        tmp_path / "f", flagged, *one_column_records(["ok", "!bad"])
    )
    assert rows == expected and [r["value"] for r in rows] == ["ok"]
    assert result.rows_quarantined == 1


def test_unknown_function_names_are_reported_with_their_line():
    with pytest.raises(MappingFileError) as error:
        parse_mapping(single_field("[trim, slugify_everything]"), "m.yaml")
    assert error.value.line == 7 and "slugify_everything" in str(error.value)


def test_functions_published_as_entry_points_are_found_by_name(monkeypatch):
    class FakeEntryPoint:
        name = "test_reverse"

        def load(self):
            def reverse(value):
                """Reverse the text."""
                return value[::-1]

            return reverse

    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    monkeypatch.setattr(
        registry.importlib.metadata,
        "entry_points",
        lambda group: [FakeEntryPoint()] if group == registry.ENTRY_POINT_GROUP else [],
    )
    try:
        definition = get_function("test_reverse")
        assert definition is not None and definition.custom
        run = definition.batch(definition.parse_config(None), FunctionContext())
        assert run(["abc"]) == (["cba"], [False])
    finally:
        unregister("test_reverse")


def test_a_custom_function_cannot_shadow_a_built_in():
    with pytest.raises(ValueError, match="built-in"):
        mapping_function("trim")(lambda values: values)

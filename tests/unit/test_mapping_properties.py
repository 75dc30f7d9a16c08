"""Property tests: for random messy records and random valid mappings, the engine (one SQL query
on DuckDB plus Python nodes) and the row-by-row reference interpreter agree on every output row,
every quarantined record and its rule and reason, and every count."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

from destinations.warehouse import Warehouse
from mappings.errors import MappingFileError
from mappings.functions import FunctionContext
from mappings.reference import run_reference
from mappings.spec import parse_mapping
from tests.unit.test_mapping_support import (
    SECRET,
    drop_schema_duckdb,
    duckdb_settings,
    load_raw_duckdb,
    normalize,
    quarantine_entry,
    quarantine_rows,
    run_engine,
    sort_key,
    target_rows,
)

EXAMPLES = int(os.environ.get("MAPPING_PROPERTY_EXAMPLES", "60"))
PROPS = ["a", "b", "c", "d", "e"]
TYPES = {
    "id": "string",
    "updated_at": "datetime",
    "archived": "boolean",
    **{f"properties__{p}": "string" for p in PROPS},
}

# --- messy text ------------------------------------------------------------------------------

emails = st.sampled_from(
    [
        "ada@example.com",
        " Ada.Lovelace@Example.COM ",
        "bob+tag@mail.co.uk",
        "no-at-sign",
        "two@@example.com",
        "dot.@example.com",
        "x@localhost",
        "a@b.test",
        "a@exa--mple.com",
        "jose@exämple.com",
        "josé@example.com",
        "o'brien@example.ie",
        "a@123.456",
        "user@sub-domain.example.org",
        "\tcarl@EXAMPLE.org\n",
        "ada@example.com",
        "@example.com",
        "a@b",
    ]
)
phones = st.sampled_from(
    [
        "(617) 555-0123",
        "617.555.0123",
        "+1 617 555 0123",
        "1-617-555-0123",
        "6175550123",
        "+1 (212) 736-5000",
        "212-736-5000 x12",
        "+44 20 7946 0958",
        "020 7946 0958",
        "555-0123",
        "call me",
        "+1 416 555 0199",
        "011 44 20 7946 0958",
        "1 800 FLOWERS",
        "+1 999 555 0123",
        "(268) 464-1234",
        "(787) 555-0100",
        "+",
        "12",
    ]
)
numbers = st.sampled_from(
    [
        "12",
        " 7 ",
        "-3",
        "+5",
        "1.5",
        "1.005",
        ".5",
        "5.",
        "1e3",
        "12abc",
        "99999999999999999999",
        "0",
        "-0.004",
        "1_000",
        "",
        "  ",
    ]
)
dates = st.sampled_from(
    [
        "2024-01-15",
        "2024-01-15T10:30:00Z",
        "2024-01-15T10:30:00.123456789+02:00",
        "2024-01-15 23:59:59-05",
        "2024-02-30",
        "2024-01-15T24:00:00Z",
        "1700000000000",
        "-86400000",
        "15/01/2024",
        "2024-01-15T10:30+0530",
        "0000-01-01",
        "9999-12-31T23:00:00-05:00",
        "not a date",
    ]
)
booleans = st.sampled_from(["true", "False", "yes", "N", "1", "0", "on", "maybe", " t "])
words = st.text(alphabet="abcAB é@.-+ \t0123456789;/:", max_size=12)
jsons = st.sampled_from(['{"a": 1}', "[1, 2]", "NaN", "[1,]", '"x"', "{", "null", "3"])
lists = st.sampled_from(["a;b", " a ; ;b;", ";", "x", "a,b"])
messy = st.one_of(
    st.none(), emails, phones, numbers, dates, booleans, words, jsons, lists, st.just("")
)
moments = st.sampled_from(
    [None] + [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(4)]
)


@st.composite
def records(draw) -> list[dict]:
    count = draw(st.integers(min_value=0, max_value=25))
    ids = draw(
        st.lists(
            st.sampled_from([f"r{i}" for i in range(30)] + [None]), min_size=count, max_size=count
        )
    )
    out = []
    for rid in ids:
        record = {
            "id": rid,
            "updated_at": draw(moments),
            "archived": draw(st.sampled_from([False, False, True, None])),
        }
        for p in PROPS:
            record[f"properties__{p}"] = draw(messy)
        out.append(record)
    return out


# --- random valid mappings -------------------------------------------------------------------

STRING_FUNCTIONS = [
    "trim",
    "lower",
    "upper",
    "empty_to_null",
    "domain",
    "email_normalize",
    "phone_normalize",
    "hash",
]
REGEXES = ["[a-z]+", ".*@.*", "[+0-9]+", "[^ ]*", "a.*"]
TYPE_DEFAULTS = {
    "string": "n/a",
    "integer": 0,
    "decimal": "0.5",
    "float": 0.25,
    "boolean": True,
    "date": "2000-01-01",
    "datetime": "2000-01-01T00:00:00Z",
    "list": ["none"],
}


def source_condition(draw) -> str:
    prop = f"properties.{draw(st.sampled_from(PROPS))}"
    literal = draw(st.sampled_from(["'12'", "'ada@example.com'", "'true'", "''", "'a'"]))
    base = draw(
        st.sampled_from(
            [
                f"{prop} = {literal}",
                f"{prop} is null",
                f"{prop} is not null",
                f"{prop} in ('12', 'yes', 'a;b')",
                f"length(trim({prop})) > 3",
                f"lower({prop}) < 'm'",
                "archived = false",
                "not archived",
                f"integer({prop}) >= 5",
                f"datetime({prop}) < '2024-01-15T12:00:00Z'",
                f"coalesce({prop}, 'x') <> 'x'",
                "updated_at >= '2024-01-02'",
            ]
        )
    )
    if draw(st.booleans()):
        other = f"properties.{draw(st.sampled_from(PROPS))} is null"
        base = f"({base}) {draw(st.sampled_from(['and', 'or']))} {other}"
    return base


@st.composite
def leaf_producer(draw, field_names: list[str]) -> dict:
    kind = draw(st.sampled_from(["source"] * 5 + ["value", "template"]))
    if kind == "template" and field_names:
        chosen = draw(st.lists(st.sampled_from(field_names), min_size=1, max_size=2, unique=True))
        shape = draw(st.sampled_from(["{{ NAME }}", "<{{ NAME }}>", "{{ NAME | upper }}"]))
        text = shape.replace("NAME", chosen[0])
        if len(chosen) > 1:
            text += " {{ " + chosen[1] + " }}"
        producer: dict = {"template": text}
    elif kind == "value":
        producer = {"value": draw(st.sampled_from(["12", "yes", " x ", "2024-01-15", None]))}
    else:
        producer = {"source": f"properties.{draw(st.sampled_from(PROPS))}"}
    functions = []
    current = "string"
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        choice = draw(st.sampled_from(STRING_FUNCTIONS + ["split", "coalesce", "parse_date"]))
        if current != "string":
            break
        if choice == "split":
            functions.append({"split": draw(st.sampled_from([";", ","]))})
            current = "list"
            if draw(st.booleans()):
                functions.append({"join": "|"})
                current = "string"
        elif choice == "coalesce":
            functions.append({"coalesce": [f"properties.{draw(st.sampled_from(PROPS))}"]})
        elif choice == "parse_date":
            functions.append(
                {
                    "parse_date": {
                        "formats": ["%d/%m/%Y", "%Y-%m-%d"],
                        "output": draw(st.sampled_from(["date", "datetime"])),
                    }
                }
            )
            current = "date_like"
        elif choice == "hash":
            functions.append({"hash": {"salt": draw(st.booleans())}})
        else:
            functions.append(choice)
    if functions:
        producer["functions"] = functions
    return producer


def field_type(draw, producer_output: str) -> dict:
    if producer_output == "list":
        return {"type": draw(st.sampled_from(["list", "list"]))}
    if producer_output == "date_like":
        return {"type": draw(st.sampled_from(["date", "datetime", "string"]))}
    name = draw(
        st.sampled_from(
            [
                "string",
                "string",
                "integer",
                "decimal",
                "float",
                "boolean",
                "date",
                "datetime",
                "json",
                "list",
            ]
        )
    )
    spec: dict = {"type": name}
    if name == "decimal":
        precision = draw(st.integers(min_value=1, max_value=20))
        spec.update(precision=precision, scale=draw(st.integers(min_value=0, max_value=precision)))
    return spec


def output_of(producer: dict) -> str:
    current = "string"
    for f in producer.get("functions", []):
        name = f if isinstance(f, str) else next(iter(f))
        if name == "split":
            current = "list"
        elif name == "join":
            current = "string"
        elif name == "parse_date":
            current = "date_like"
    return current


@st.composite
def mappings(draw) -> dict:
    fields: dict[str, dict] = {}
    count = draw(st.integers(min_value=1, max_value=5))
    for i in range(count):
        name = f"f{i}"
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            then = draw(leaf_producer(list(fields)))
            otherwise = draw(leaf_producer(list(fields)))
            outputs = {output_of(then), output_of(otherwise)}
            if len(outputs) > 1:
                otherwise = {"value": None}
            field = {"when": source_condition(draw), "then": then}
            if draw(st.booleans()):
                field["else"] = otherwise
            out = output_of(then)
        else:
            field = draw(leaf_producer(list(fields)))
            out = output_of(field)
        field.update(field_type(draw, out))
        on_error = draw(st.sampled_from(["null", "warn", "reject", "default"]))
        field["on_error"] = on_error
        if on_error == "default":
            if field["type"] == "json":
                field["on_error"] = "null"
            else:
                field["default"] = TYPE_DEFAULTS[field["type"]]
        fields[name] = field
    spec: dict = {
        "name": "prop",
        "source": {"provider": "hubspot", "table": "contacts"},
        "target": "crm.things",
        "fields": fields,
    }
    if draw(st.booleans()):
        spec["where"] = source_condition(draw)
    keyable = [n for n, f in fields.items() if f["type"] not in ("json", "list")]
    if keyable and draw(st.booleans()):
        spec["key"] = [draw(st.sampled_from(keyable))]
    spec["rules"] = draw(rules(fields))
    return spec


@st.composite
def rules(draw, fields: dict[str, dict]) -> list[dict]:
    out = []
    names = list(fields)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        name = draw(st.sampled_from(names))
        kind = fields[name]["type"]
        severity = draw(st.sampled_from(["reject", "warn"]))
        options = ["required", "cross_field"]
        if kind == "string":
            options += ["regex", "enum", "range", "unique"]
        if kind in ("integer", "decimal", "float", "date", "datetime"):
            options += ["range", "unique"]
        if kind == "boolean":
            options += ["enum"]
        rule = draw(st.sampled_from(options))
        if rule == "required":
            out.append({"rule": "required", "field": name, "severity": severity})
        elif rule == "regex":
            out.append(
                {
                    "rule": "regex",
                    "field": name,
                    "pattern": draw(st.sampled_from(REGEXES)),
                    "severity": severity,
                }
            )
        elif rule == "enum":
            values = ["12", "yes", "ada@example.com", "a"] if kind == "string" else [True]
            out.append({"rule": "enum", "field": name, "values": values, "severity": severity})
        elif rule == "unique":
            out.append({"rule": "unique", "field": name, "severity": severity})
        elif rule == "range":
            bounds = {
                "string": ("b", "m"),
                "integer": (0, 10),
                "decimal": ("0", "10"),
                "float": (0, 10),
                "date": ("2020-01-01", "2024-01-20"),
                "datetime": ("2020-01-01T00:00:00Z", "2024-01-15T12:00:00+01:00"),
            }[kind]
            out.append(
                {
                    "rule": "range",
                    "field": name,
                    "min": bounds[0],
                    "max": bounds[1],
                    "severity": severity,
                }
            )
        else:
            other = draw(st.sampled_from(names))
            expression = f"{name} is not null or {other} is null"
            if fields[other]["type"] == kind and kind not in ("json", "list"):
                expression = draw(
                    st.sampled_from([expression, f"{name} = {other}", f"not ({name} <> {other})"])
                )
            out.append({"rule": "cross_field", "expression": expression, "severity": severity})
    return out


# --- the property ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> tuple:
    root: Path = tmp_path_factory.mktemp("mapping-props")
    settings_ = duckdb_settings(root, PHONE_DEFAULT_REGION="US")
    return settings_, Warehouse.from_settings(settings_)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # the explain phase traces every line and takes minutes on this test
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(spec_data=mappings(), data=records())
def test_engine_on_duckdb_equals_the_reference_interpreter(workspace, spec_data, data):
    settings_, warehouse = workspace
    text = yaml.safe_dump(spec_data, sort_keys=False)
    note(text)
    try:
        spec = parse_mapping(text, "prop.yaml")
    except MappingFileError as exc:  # the generator may pair a rule with an unsuited field
        note(str(exc))
        assume(False)
    load_raw_duckdb(warehouse, "hubspot", "prop", "contacts", data, TYPES)
    drop_schema_duckdb(warehouse, "crm")

    result = run_engine(warehouse, settings_, spec, "prop")
    expected = run_reference(
        spec, data, types=TYPES, context=FunctionContext(phone_region="US", salt=SECRET)
    )

    rows = sorted(target_rows(warehouse, spec, "prop"), key=sort_key)
    reference_rows = sorted(
        (
            {
                k: normalize(v, spec.fields[k].type if k in spec.fields else None)
                for k, v in row.items()
            }
            for row in expected.rows
        ),
        key=sort_key,
    )
    assert rows == reference_rows
    quarantined = sorted(quarantine_entry(q) for q in quarantine_rows(warehouse, spec, "prop"))
    assert quarantined == sorted(quarantine_entry(q) for q in expected.quarantined)
    assert (
        result.rows_in,
        result.rows_out,
        result.rows_quarantined,
        result.rows_deduplicated,
        result.rows_filtered,
    ) == (
        expected.rows_in,
        expected.rows_out,
        expected.rows_quarantined,
        expected.rows_deduplicated,
        expected.rows_filtered,
    )
    assert result.warnings_by_rule == {k: v for k, v in expected.warnings_by_rule.items()}
    assert (result.nulled_by_field, result.inputs_by_field) == (
        expected.nulled_by_field,
        expected.inputs_by_field,
    )
    assert result.invariant_holds

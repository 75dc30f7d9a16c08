"""Resource limits of templates and expressions (issue 9, item 14): nothing a mapping file says
can hang a worker or allocate without bound, and every refusal is `file:line: field: message`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import main
from destinations.warehouse import Warehouse
from mappings.errors import MappingFileError
from mappings.functions import FunctionContext
from mappings.reference import run_reference
from mappings.spec import parse_mapping
from mappings.templates import MAX_TEXT, FieldTemplate, TemplateLimitError
from tests.unit.test_mapping_support import (
    SECRET,
    duckdb_settings,
    load_raw_duckdb,
    one_column_records,
    run_engine,
)

HEAD = """\
name: limits
source: {provider: hubspot, table: contacts}
target: crm.limits
fields:
  name: {source: properties.value}
"""


def spec_with(line: str, extra: str = "") -> str:
    return HEAD + line + "\n" + extra


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 9**30000000 }}", "integer power exceeds"),
        ("{{ 'a'*300000000 }}", "repeated text exceeds"),
        ("{{ '%999999999s' % 1 }}", "format width exceeds"),
        ("{{ 'a' | center(999999999) }}", "center width exceeds"),
        ("{{ range(100000) | join('x' * 60000) }}", "joined text exceeds"),
        ("{{ lipsum(1000000) }}", "call range() and loop.cycle() only"),
        ("{{ [1, 2] | random }}", "unsupported filter 'random'"),
        ("{% macro m() %}x{% endmacro %}{{ name }}", "cannot use macros"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "rendering took longer than",
        ),
        ("{{ " + "(" * 200 + "1" + ")" * 200 + " }}", "nests deeper than"),
    ],
)
def test_a_template_that_blows_up_without_any_field_is_refused_when_the_file_loads(
    template: str, message: str
) -> None:
    text = spec_with(f"  bomb: {{template: {template!r}}}")
    with pytest.raises(MappingFileError) as caught:
        parse_mapping(text, "limits.yaml")
    assert str(caught.value).startswith("limits.yaml:6: fields.bomb.template: ")
    assert message in str(caught.value)


def test_templates_within_the_limits_still_render() -> None:
    loop = "{% for t in tags %}{{ t | upper }}{% if not loop.last %}, {% endif %}{% endfor %}"
    assert FieldTemplate(loop).render({"tags": ["a", "b"]}) == "A, B"
    assert FieldTemplate("{{ a ~ '-' ~ b | default('none') }}").render({"a": "x"}) == "x-none"
    assert FieldTemplate("{{ 2 ** 100 }}").render({}) == str(2**100)


def test_a_row_that_crosses_a_limit_stops_the_run_with_file_line_field(tmp_path) -> None:
    text = spec_with("  shout: {template: '{{ name * 70000 }}'}")
    spec = parse_mapping(text, "limits.yaml")  # with every field null it renders nothing
    records, types = one_column_records(["ok", None])
    settings = duckdb_settings(tmp_path)
    warehouse = Warehouse.from_settings(settings)
    load_raw_duckdb(warehouse, "hubspot", "acme", "contacts", records, types)

    with pytest.raises(MappingFileError) as engine_error:
        run_engine(warehouse, settings, spec, "acme")
    with pytest.raises(MappingFileError) as reference_error:
        run_reference(spec, records, types=types, context=FunctionContext(salt=SECRET))

    expected = f"limits.yaml:6: fields.shout.template: a repeated text exceeds {MAX_TEXT:,}"
    assert str(engine_error.value).startswith(expected)
    assert str(reference_error.value).startswith(expected)
    assert not warehouse.table_exists("crm", "limits")  # nothing written


def test_a_loop_over_row_values_is_stopped_by_the_render_deadline() -> None:
    loops = "{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}"
    template = FieldTemplate(loops)  # s is null at load: nothing to loop over
    with pytest.raises(TemplateLimitError, match="rendering took longer than"):
        template.render({"s": "x" * 2000})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("(" * 9000 + "properties.a is null" + ")" * 9000, "nests deeper than 64 levels"),
        ("(" * 20000 + "properties.a is null" + ")" * 20000, "longer than 20,000 characters"),
        ("not " * 3000 + "properties.a is null", "nests deeper than 64 levels"),
        ("lower(" * 100 + "properties.a" + ")" * 100 + " = 'x'", "nests deeper than 64 levels"),
    ],
)
def test_deeply_nested_expressions_are_file_line_field_errors(
    expression: str, message: str
) -> None:
    with pytest.raises(MappingFileError) as caught:
        parse_mapping(HEAD + f"where: {json.dumps(expression)}\n", "limits.yaml")
    assert str(caught.value).startswith("limits.yaml:6: where: ")
    assert message in str(caught.value)


def test_deeply_nested_yaml_is_a_clean_error() -> None:
    with pytest.raises(MappingFileError, match="limits.yaml: <root>: not valid YAML: the YAML"):
        parse_mapping("[" * 20000 + "]" * 20000, "limits.yaml")


BROKEN = spec_with(
    "  bomb: {template: '{{ 9**30000000 }}'}\n  other: {source: properties.b, functions: [trimm]}"
)


def test_preview_of_a_bad_file_prints_the_error_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BROKEN)
    args = ["mappings", "preview", str(path), "--integration", "acme"]
    result = CliRunner().invoke(main, args, env={"DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert f"{path}:6: fields.bomb.template: an integer power exceeds" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, MappingFileError)  # handled, not raised


def test_validate_all_prints_every_problem(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BROKEN)
    env = {"DATA_DIR": str(tmp_path)}
    first = CliRunner().invoke(main, ["mappings", "validate", str(path)], env=env)
    every = CliRunner().invoke(main, ["mappings", "validate", "--all", str(path)], env=env)
    assert first.exit_code == every.exit_code == 1
    assert "(and 1 more problem)" in first.output
    assert every.output.splitlines() == [
        f"{path}:6: fields.bomb.template: an integer power exceeds 4,096 bits "
        "(with every field null)",
        f"{path}:7: fields.other.functions[0]: unknown function 'trimm'",
    ]

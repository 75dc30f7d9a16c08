"""Regression: a mapping whose node-input query DuckDB's `partial_aggregate_pushdown` optimizer
expanded exponentially (planning for minutes, 12 GB RSS, before executing anything).

Found by `test_mapping_properties.py` (seed 1, 100 examples): the aggregate that reads a
template's distinct inputs sits above a lookup join and a stack of trim/domain/float layers;
pushing it below the join substitutes every layer's expressions into the next. The engine's
DuckDB sessions disable that optimizer (`mappings.session.DUCKDB_UNSAFE_OPTIMIZERS`).

The run happens in a child process with an address-space cap, so a regression fails this test
in seconds with a clear message instead of eating the machine's memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

SPEC = {
    "name": "prop",
    "source": {"provider": "hubspot", "table": "contacts"},
    "target": "crm.things",
    "fields": {
        "f0": {
            "source": "properties.a",
            "functions": ["trim"],
            "on_error": "default",
            "default": "n/a",
        },
        "f1": {"value": None, "functions": [{"split": ","}], "type": "list"},
        "f2": {
            "template": "{{ f0 }}",
            "functions": ["domain"],
            "type": "float",
            "on_error": "reject",
        },
        "f3": {
            "template": "{{ f2 }} {{ f1 }}",
            "functions": ["lower", "email_normalize"],
            "type": "integer",
        },
    },
}
VALUES = [
    "False",
    "2024-01-15",
    " 7 ",
    "(787) 555-0100",
    "9999-12-31T23:00:00-05:00",
    "a,b",
    "null",
    "6175550123",
    "12",
    "x",
    "+1 416 555 0199",
    "a@123.456",
    "",
    "+",
    "555-0123",
    "N",
    None,
    ".5",
    "[1, 2]",
    "-0.004",
    "  ",
    "+0.0",
    "maybe",
]

CHILD = textwrap.dedent(
    """
    import json, resource, sys, tempfile
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
    from destinations.warehouse import Warehouse
    from mappings.functions import FunctionContext
    from mappings.reference import run_reference
    from mappings.spec import parse_mapping
    from tests.unit.test_mapping_support import (
        SECRET, duckdb_settings, load_raw_duckdb, normalize, run_engine, sort_key, target_rows,
    )
    spec_text, values = json.loads(sys.stdin.read())
    records = [{"id": f"r{i}", "properties__a": v} for i, v in enumerate(values)]
    types = {"id": "string", "properties__a": "string"}
    settings = duckdb_settings(Path(tempfile.mkdtemp()), PHONE_DEFAULT_REGION="US")
    warehouse = Warehouse.from_settings(settings)
    load_raw_duckdb(warehouse, "hubspot", "prop", "contacts", records, types)
    spec = parse_mapping(spec_text, "prop.yaml")
    result = run_engine(warehouse, settings, spec, "prop")
    expected = run_reference(
        spec, records, types=types, context=FunctionContext(phone_region="US", salt=SECRET)
    )
    rows = sorted(target_rows(warehouse, spec, "prop"), key=sort_key)
    reference = sorted(
        ({k: normalize(v, spec.fields[k].type if k in spec.fields else None)
          for k, v in row.items()} for row in expected.rows),
        key=sort_key,
    )
    print(json.dumps({"equal": rows == reference, "out": result.rows_out,
                      "quarantined": result.rows_quarantined,
                      "expected": [expected.rows_out, expected.rows_quarantined]}))
    """
)


def test_template_over_layered_text_plans_and_matches_the_reference() -> None:
    payload = json.dumps([yaml.safe_dump(SPEC, sort_keys=False), VALUES])
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            input=payload,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(
            "the mapping engine did not finish: DuckDB's planner blew up on the layered query"
        ) from None
    assert done.returncode == 0, (
        f"the engine run failed or ran out of memory:\n{done.stderr[-2000:]}"
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["equal"], outcome
    assert [outcome["out"], outcome["quarantined"]] == outcome["expected"]

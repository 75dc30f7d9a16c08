"""The shipped HubSpot mappings on data synced from the sandbox over real HTTP: every raw row is
accounted for, the engine equals the reference interpreter, and a rerun after an incremental
sync replaces the integration's rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from mappings import MappingEngine, load_mappings
from mappings.functions import FunctionContext
from mappings.reference import run_reference
from mappings.session import category_of_sql_type
from tests.unit.test_mapping_support import (
    SECRET,
    normalized_row,
    quarantine_entry,
    quarantine_rows,
    sort_key,
    target_rows,
)

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture
def synced(platform):
    platform.settings = platform.settings.model_copy(update={"SECRET_KEY": SecretStr(SECRET)})
    platform.sync(full_refresh=True)
    return platform


def raw_records(platform, table: str) -> tuple[list[dict], dict[str, str]]:
    conn = platform.warehouse.connect_readonly()
    try:
        cursor = conn.execute(f"SELECT * FROM {platform.dataset}.{table}")
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_schema = '{platform.dataset}' AND table_name = '{table}'"
            ).fetchall()
        )
    finally:
        conn.close()
    return rows, {name: category_of_sql_type(t)[0] for name, t in types.items()}


def test_shipped_mappings_account_for_every_raw_row_and_equal_the_reference(synced):
    engine = MappingEngine(synced.warehouse, synced.settings)
    for spec in load_mappings(SHIPPED):
        result = engine.run(spec, integration_id=synced.integration_id)
        records, types = raw_records(synced, spec.source.table)
        assert result.rows_in == len(records) > 0
        assert result.invariant_holds
        archived = sum(1 for r in records if r["archived"])
        assert result.rows_filtered == archived

        reference = run_reference(
            spec, records, types=types, context=FunctionContext(phone_region="US", salt=SECRET)
        )
        rows = sorted(target_rows(synced.warehouse, spec, synced.integration_id), key=sort_key)
        assert rows == sorted((normalized_row(r, spec) for r in reference.rows), key=sort_key)
        rejected = [q for q in reference.quarantined if q["severity"] == "reject"]
        assert result.rows_quarantined == len(rejected)
        assert (result.nulled_by_field, result.inputs_by_field) == (
            reference.nulled_by_field,
            reference.inputs_by_field,
        )
        quarantine = quarantine_rows(synced.warehouse, spec, synced.integration_id)
        assert sorted(map(quarantine_entry, quarantine)) == sorted(
            map(quarantine_entry, reference.quarantined)
        )
        if spec.name == "hubspot_contacts":  # the sandbox's few invalid phones, as warnings
            assert 0 < result.quarantine_warnings_by_field["phone"] <= 0.05 * len(records)


def test_contacts_are_normalised_and_a_rerun_after_an_incremental_sync_replaces_them(synced):
    spec = next(s for s in load_mappings(SHIPPED) if s.name == "hubspot_contacts")
    engine = MappingEngine(synced.warehouse, synced.settings)
    first = engine.run(spec, integration_id=synced.integration_id)
    rows = target_rows(synced.warehouse, spec, synced.integration_id)
    assert all(r["email"] == r["email"].lower() for r in rows if r["email"])
    assert all(r["phone"] is None or re.fullmatch(r"\+[1-9][0-9]{6,14}", r["phone"]) for r in rows)
    assert any(r["full_name"] and " " in r["full_name"] for r in rows)

    synced.sandbox.mutate("contacts", 25)
    synced.sync()
    second = engine.run(spec, integration_id=synced.integration_id)

    assert second.rows_in == first.rows_in
    after = target_rows(synced.warehouse, spec, synced.integration_id)
    assert len(after) == second.rows_out == len({r["_source_id"] for r in after})
    assert max(r["_source_updated_at"] for r in after) > max(r["_source_updated_at"] for r in rows)

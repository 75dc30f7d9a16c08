"""Erasure end to end: a real sync from the HubSpot sandbox, the shipped mappings, dedup, the
analyst tables and a webhook event; then `erase --email`: the person is gone from every table
and every file under DATA_DIR, the audit log has the entry, tombstones exist, and a second sync
(full) does not bring them back. `--dry-run` lists without changing anything; an unknown
address is a clear error and changes nothing."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from core.clock import clock
from inbox import InboundEvent, Inbox
from mappings import MappingEngine, load_mappings
from mappings.dedup import DedupEngine, load_match_rules
from pipelines.audit import AuditLog
from privacy.erasure import Erasure, ErasureNotFound
from privacy.tombstones import list_tombstones
from privacy.views import AnalystViews, analyst_duckdb_path

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"
RULES = """
model: contacts
rules:
  - {name: email_exact, type: exact, fields: [email], normalize: lower_trim, max_group_size: 50}
  - {name: phone_exact, type: exact, fields: [phone], normalize: digits, max_group_size: 5}
survivorship: {default: most_recent}
"""
TWIN_EMAIL = "erin.twin@private.example"
SALT = "privacy-test-salt"
ROLE = f"analyst_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mappings_dir(tmp_path) -> Path:
    """The shipped mapping files and a small contacts rule set (e-mail, phone)."""
    root = tmp_path / "mappings"
    (root / "match_rules").mkdir(parents=True)
    for path in SHIPPED.glob("*.yaml"):
        (root / path.name).write_text(path.read_text())
    (root / "match_rules" / "contacts.yaml").write_text(RULES)
    return root


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    if request.param == "duckdb":
        yield {}
        return
    url = request.getfixturevalue("postgres_url")
    yield {"WAREHOUSE": "postgres", "WAREHOUSE_POSTGRES_URL": url}
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:  # the role is cluster-wide
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone():
            admin.execute(f"DROP OWNED BY {ROLE}")
            admin.execute(f"DROP ROLE {ROLE}")


@pytest.fixture
def world(platform, monkeypatch, mappings_dir, backend):
    monkeypatch.setenv("SECRET_KEY", SALT)
    platform.settings = platform.settings.model_copy(
        update={"SECRET_KEY": SecretStr(SALT), **backend}
    )
    platform.sandbox.reset(contacts=80, companies=12, deals=30)
    platform.sync(full_refresh=True)
    ds = platform.dataset
    # a contact with a unique phone and links to a company and a deal
    person_id, email, phone = platform.query(
        "SELECT c.id, c.properties__email, c.properties__phone FROM {ds}.contacts c "
        "WHERE c.properties__email IS NOT NULL AND c.properties__phone IS NOT NULL "
        "AND c.archived = false "
        "AND c.id IN (SELECT contact_id FROM {ds}.contact_companies) "
        "AND c.id IN (SELECT contact_id FROM {ds}.deal_contacts) "
        "AND c.properties__phone IN (SELECT properties__phone FROM {ds}.contacts "
        "GROUP BY 1 HAVING COUNT(*) = 1) ORDER BY c.id LIMIT 1"
    )[0]
    # the same person entered a second time with a private address: linked by phone only
    twin = platform.sandbox.admin(
        "POST",
        "create",
        json={
            "object_type": "contacts",
            "properties": {"email": TWIN_EMAIL, "phone": phone, "firstname": "Erin"},
        },
    )["ids"][0]
    platform.sync()
    assert platform.query(f"SELECT COUNT(*) FROM {ds}.contacts WHERE id = '{twin}'") == [(1,)]
    inbox = Inbox.from_settings(platform.settings)
    inbox.append(
        [
            InboundEvent(
                provider="hubspot",
                integration_id=platform.integration_id,
                delivery_id="d-1",
                event_type="contact.propertyChange",
                object_type="contacts",
                object_id=str(person_id),
                payload=b'{"propertyValue": "%s"}' % email.encode(),
                headers={},
                verification="hubspot-v3",
                received_at=clock.now(),
            )
        ]
    )
    specs = load_mappings(mappings_dir)
    rules = [load_match_rules(mappings_dir / "match_rules" / "contacts.yaml")]
    refresh(platform, specs, rules)
    # a golden relation naming the person (as the relations engine writes it)
    platform.warehouse.execute(
        [
            (
                "CREATE TABLE crm.golden_deal_contacts AS SELECT 'deal-1' AS deal_golden_id, "
                "golden_id AS contact_golden_id FROM crm.contacts_golden",
                None,
            )
        ]
    )
    return platform, specs, rules, str(person_id), email, str(twin), inbox


def refresh(platform, specs, rules):
    engine = MappingEngine(platform.warehouse, platform.settings)
    for spec in specs:
        engine.run(spec, integration_id=platform.integration_id)
    for model in rules:
        DedupEngine(platform.warehouse).run(model)
    AnalystViews(platform.warehouse, SALT, role=ROLE).refresh(specs, rules)


def erasure(platform, specs, rules, inbox):
    return Erasure(platform.settings, specs=specs, rules=rules, inbox=inbox, analyst_role=ROLE)


def counts(platform) -> dict[str, int]:
    conn = platform.warehouse.connect_readonly()
    try:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        return {
            f"{s}.{t}": conn.execute(f'SELECT COUNT(*) FROM "{s}"."{t}"').fetchone()[0]
            for s, t in tables
        }
    finally:
        conn.close()


def holding(platform, ids: set[str], email: str) -> list[str]:
    """Every warehouse table that still holds one of the ids (as a record id, an association
    or a crosswalk member) or the address anywhere in a row."""
    pg = platform.warehouse.kind == "postgres"
    m = "%s" if pg else "?"
    found = []
    conn = platform.warehouse.connect_readonly()
    try:
        for schema, table in conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'platform_privacy') "
            "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'"
        ).fetchall():
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    f"WHERE table_schema = {m} AND table_name = {m}",
                    [schema, table],
                ).fetchall()
            ]
            keyed = [c for c in columns if c in ("id", "contact_id", "_source_id", "source_id")]
            if table != "contacts" and "contact" not in table and "crm" not in schema:
                keyed = []
            clauses = [
                f'CAST("{c}" AS VARCHAR) = ANY({m})' if pg else f'CAST("{c}" AS VARCHAR) IN {m}'
                for c in keyed
            ]
            text = " || '|' || ".join(f"COALESCE(CAST(\"{c}\" AS VARCHAR), '')" for c in columns)
            clauses.append(f"strpos(lower({text}), {m}) > 0")
            params = [sorted(ids)] * len(keyed) + [email.lower()]
            sql = f'SELECT COUNT(*) FROM "{schema}"."{table}" WHERE ' + " OR ".join(clauses)
            if conn.execute(sql, params).fetchone()[0]:
                found.append(f"{schema}.{table}")
    finally:
        conn.close()
    return found


def files_holding(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            if body[:2] == b"\x1f\x8b":  # gzipped job files (CSV for Postgres)
                body = gzip.decompress(body)
            body = body.lower()
            if any(n.lower().encode() in body for n in needles):
                hits.append(str(path.relative_to(root)))
    return hits


def analyst_rows_of(platform, ids: set[str]) -> int:
    """Rows of the analyst tables (DuckDB: the separate file) that belong to the ids."""
    pg = platform.warehouse.kind == "postgres"
    if pg:
        conn = platform.warehouse.connect_readonly()
    else:
        conn = duckdb.connect(str(analyst_duckdb_path(platform.warehouse)), read_only=True)
    clause = "= ANY(%s)" if pg else "IN ?"
    try:
        return sum(
            conn.execute(
                f"SELECT COUNT(*) FROM crm_analyst.{table} "
                f"WHERE CAST(_source_id AS VARCHAR) {clause}",
                [sorted(ids)],
            ).fetchone()[0]
            for table in ("contacts", "contacts_crosswalk")
        )
    finally:
        conn.close()


@pytest.mark.slow
def test_erase_by_email_removes_the_person_everywhere_and_a_second_sync_keeps_them_out(world):
    platform, specs, rules, person, email, twin, inbox = world
    ids = {person, twin}
    before = counts(platform)
    assert holding(platform, ids, email)  # present before
    assert files_holding(platform.settings.data_dir / "dlt", [email, TWIN_EMAIL])
    golden = platform.query(
        f"SELECT DISTINCT golden_id FROM crm.contacts_crosswalk WHERE _source_id IN ('{person}', '{twin}')"
    )
    assert len(golden) == 1  # the twin is linked to the person by phone

    dry = erasure(platform, specs, rules, inbox).erase(email=email, dry_run=True)
    assert {r.source_id for r in dry.records} == ids
    assert {r.found_by for r in dry.records if r.source_id == twin} == {"crosswalk"}
    assert dry.rows[f"{platform.dataset}.contacts"] == 2
    assert dry.rows["crm.contacts_golden"] == 1
    assert dry.artefact_rows > 0
    assert counts(platform) == before  # a dry run changes nothing
    assert list_tombstones(platform.warehouse) == []

    report = erasure(platform, specs, rules, inbox).erase(email=email, actor="dpo@example.com")

    assert {r.source_id for r in report.records} == ids
    assert platform.query(
        f"SELECT COUNT(*) FROM crm.golden_deal_contacts WHERE contact_golden_id = '{golden[0][0]}'"
    ) == [(0,)]
    assert report.rows["crm.golden_deal_contacts"] == 1
    assert holding(platform, ids, email) == []
    assert holding(platform, ids, TWIN_EMAIL) == []
    assert analyst_rows_of(platform, ids) == 0
    assert files_holding(platform.settings.data_dir, [email, TWIN_EMAIL]) == []
    assert report.inbox_events == 1
    assert [e.object_id for e in inbox.get(range(1, 10))] in ([], [None])
    stones = list_tombstones(platform.warehouse)
    assert {(s.entity, s.source_id) for s in stones} == {("contacts", i) for i in ids}
    assert {s.email_hash for s in stones} == {report.email_hash}
    entry = AuditLog(_db(platform)).list()[0]
    assert entry.action == "privacy.erased" and entry.actor == "dpo@example.com"
    assert entry.details["email_hash"] == report.email_hash
    assert entry.details["records"] == 2
    assert email not in str(entry.details)

    platform.sync(full_refresh=True)  # the sandbox still has both records
    refresh(platform, specs, rules)
    assert holding(platform, ids, email) == []
    assert holding(platform, ids, TWIN_EMAIL) == []
    assert files_holding(platform.settings.data_dir / "dlt", [email, TWIN_EMAIL]) == []

    with pytest.raises(ErasureNotFound, match="were erased at"):
        erasure(platform, specs, rules, inbox).erase(email=email)


def _db(platform):
    from pipelines.control_db import ControlDatabase

    return ControlDatabase.from_settings(platform.settings)


@pytest.mark.slow
def test_unknown_email_is_a_clear_error_and_changes_nothing(world):
    platform, specs, rules, *_, inbox = world
    before = counts(platform)

    with pytest.raises(ErasureNotFound, match="no record of e-mail 'nobody@nowhere.example'"):
        erasure(platform, specs, rules, inbox).erase(email="nobody@nowhere.example")

    assert counts(platform) == before
    assert list_tombstones(platform.warehouse) == []
    assert "privacy.erased" not in [e.action for e in AuditLog(_db(platform)).list()]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)  # API cases cover Postgres
def test_cli_erase_dry_run_lists_and_erase_by_golden_id(world, mappings_dir):
    from cli.main import main

    platform, specs, rules, person, email, twin, inbox = world
    env = {"DATA_DIR": str(platform.settings.data_dir), "MAPPINGS_DIR": str(mappings_dir)}
    runner = CliRunner()
    golden_id = platform.query(
        f"SELECT golden_id FROM crm.contacts_crosswalk WHERE _source_id = '{person}'"
    )[0][0]
    before = counts(platform)
    listed = runner.invoke(main, ["privacy", "erase", "--email", email, "--dry-run"], env=env)
    assert listed.exit_code == 0, listed.output
    assert person in listed.output and twin in listed.output and "dry run" in listed.output
    assert counts(platform) == before

    unknown = runner.invoke(main, ["privacy", "erase", "--email", "x@nowhere.example"], env=env)
    assert unknown.exit_code == 1 and "no record of e-mail" in unknown.output

    done = runner.invoke(
        main, ["privacy", "erase", "--golden-id", golden_id, "--actor", "dpo"], env=env
    )
    assert done.exit_code == 0, done.output
    assert holding(platform, {person, twin}, email) == []


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_a_person_synced_but_not_mapped_yet_is_found_in_raw_and_erased(world):
    platform, specs, rules, *_, inbox = world
    address = "Late.Person@Example.org"
    late = platform.sandbox.admin(
        "POST", "create", json={"object_type": "contacts", "properties": {"email": address}}
    )["ids"][0]
    platform.sync()  # no mapping run: the record is only in raw
    before = counts(platform)

    dry = erasure(platform, specs, rules, inbox).erase(
        email=" late.person@example.ORG", dry_run=True
    )
    assert [(r.source_id, r.found_by, r.golden_id) for r in dry.records] == [
        (str(late), "raw", None)
    ]
    assert counts(platform) == before

    erasure(platform, specs, rules, inbox).erase(email=address)
    assert holding(platform, {str(late)}, address) == []
    assert files_holding(platform.settings.data_dir, [address]) == []

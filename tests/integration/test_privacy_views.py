"""The analyst tables apply each declared policy (keep, mask, hash) the same way on DuckDB and
Postgres; on DuckDB they live in a separate file holding nothing else (`platform warehouse
shell --analyst` opens it), on Postgres a real login in the analyst role reads them and
nothing of raw, crm, quarantine or the tombstones."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest
from click.testing import CliRunner

from destinations.warehouse import Warehouse
from mappings.dedup import load_match_rules
from mappings.spec import parse_mapping
from privacy.views import AnalystViews, analyst_duckdb_path

SALT = "views-salt"
MAPPING = """name: people
source: {provider: hubspot, table: contacts}
target: crm.contacts
fields:
  email: {source: properties.email}
  phone: {source: properties.phone}
  first_name: {source: properties.firstname}
  full_name: {source: properties.fullname}
  city: {source: properties.city}
  note: {source: properties.note}
pii:
  email: {kind: email, policy: mask}
  phone: {kind: phone, policy: mask}
  first_name: {kind: name, policy: mask}
  full_name: {kind: name, policy: hash}
  city: {kind: address, policy: keep}
  note: {kind: other, policy: mask}
"""
RULES = """model: contacts
rules:
  - {name: email_exact, type: exact, fields: [email]}
"""
ROWS = [
    ("hubspot", "acme", "1", "people", "jane.doe@example.com", "+16175550142", "jane",
     "Jane Doe", "Boston", "likes cats"),
    ("hubspot", "acme", "2", "people", None, None, None, None, None, None),
    ("hubspot", "acme", "3", "people", "not-an-address", "555", "  ", "X", "Paris", ""),
]  # fmt: skip
EXPECTED = {
    "1": (
        "j***@example.com",
        "***42",
        "J.",
        hashlib.sha256((SALT + "Jane Doe").encode()).hexdigest(),
        "Boston",
        "***",
    ),
    "2": (None, None, None, None, None, None),
    "3": ("***", "***55", "***", hashlib.sha256((SALT + "X").encode()).hexdigest(), "Paris", "***"),
}
CANONICAL = (
    "CREATE TABLE crm.contacts (_source TEXT, _source_integration TEXT, _source_id TEXT, "
    "_mapping TEXT, email TEXT, phone TEXT, first_name TEXT, full_name TEXT, city TEXT, note TEXT)"
)
SETUP = [
    "CREATE SCHEMA crm",
    "CREATE SCHEMA raw_hubspot_acme",
    "CREATE TABLE raw_hubspot_acme.contacts (id TEXT, properties__email TEXT)",
    "INSERT INTO raw_hubspot_acme.contacts VALUES ('1', 'jane.doe@example.com')",
    "CREATE TABLE crm.contacts_quarantine (_source_id TEXT, record TEXT)",
    "INSERT INTO crm.contacts_quarantine VALUES ('9', '{\"email\": \"q@example.com\"}')",
    "CREATE SCHEMA platform_privacy",
    "CREATE TABLE platform_privacy.erasure_tombstones (source TEXT, integration_id TEXT, "
    "entity TEXT, source_id TEXT, email_hash TEXT, request_id TEXT, erased_at TIMESTAMPTZ)",
    CANONICAL,
    "CREATE TABLE crm.contacts_golden AS SELECT 'g' || _source_id AS golden_id, email, phone, "
    "first_name, full_name, city, note FROM crm.contacts",
    "CREATE TABLE crm.contacts_crosswalk AS SELECT 'g' || _source_id AS golden_id, _source, "
    "_source_integration, _source_id FROM crm.contacts",
]


def specs_and_rules(tmp_path: Path):
    rules_path = tmp_path / "contacts.yaml"
    rules_path.write_text(RULES)
    return [parse_mapping(MAPPING, "people.yaml")], [load_match_rules(rules_path)]


def fill(conn, marker: str) -> None:
    for statement in SETUP:
        if statement.startswith("CREATE TABLE crm.contacts_golden"):
            for row in ROWS:
                conn.execute(f"INSERT INTO crm.contacts VALUES ({', '.join([marker] * 10)})", row)
        conn.execute(statement)


def by_id(rows, key_index: int = 0) -> dict:
    return {r[key_index]: tuple(r[1:]) for r in rows}


COLUMNS = "email, phone, first_name, full_name, city, note"


def test_duckdb_analyst_file_masks_hashes_keeps_and_holds_nothing_else(tmp_path, monkeypatch):
    warehouse = Warehouse("duckdb", duckdb_path=tmp_path / "warehouse.duckdb")
    conn = duckdb.connect(str(warehouse.duckdb_path))
    fill(conn, "?")
    conn.close()
    specs, rules = specs_and_rules(tmp_path)

    result = AnalystViews(warehouse, SALT).refresh(specs, rules)

    path = analyst_duckdb_path(warehouse)
    assert result.location == str(path) and path.name == "warehouse.analyst.duckdb"
    assert result.tables == {"contacts": 3, "contacts_golden": 3, "contacts_crosswalk": 3}
    assert result.hashed == {"contacts": ["full_name"], "contacts_golden": ["full_name"]}
    analyst = duckdb.connect(str(path), read_only=True)
    try:
        rows = analyst.execute(f"SELECT _source_id, {COLUMNS} FROM crm_analyst.contacts").fetchall()
        golden = analyst.execute(
            f"SELECT substr(golden_id, 2), {COLUMNS} FROM crm_analyst.contacts_golden"
        ).fetchall()
        tables = analyst.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables"
        ).fetchall()
    finally:
        analyst.close()
    assert by_id(rows) == EXPECTED
    assert by_id(golden) == EXPECTED
    assert tables == [("crm_analyst",)]  # no raw, crm, quarantine or tombstones in the file

    # the shell's --analyst mode opens that file: the views answer, raw does not exist there
    from cli.main import main

    env = {"DATA_DIR": str(tmp_path), "DUCKDB_PATH": str(warehouse.duckdb_path)}
    runner = CliRunner()
    ok = runner.invoke(
        main,
        ["warehouse", "shell", "--analyst", "--format", "csv", "-c",
         "SELECT email FROM crm_analyst.contacts WHERE _source_id = '1'"],
        env=env,
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "j***@example.com" in ok.output
    for table in ("raw_hubspot_acme.contacts", "crm.contacts", "crm.contacts_quarantine"):
        refused = runner.invoke(
            main, ["warehouse", "shell", "--analyst", "-c", f"SELECT * FROM {table}"], env=env
        )
        assert refused.exit_code == 1 and "does not exist" in refused.output


@pytest.mark.postgres
def test_postgres_analyst_role_reads_the_views_and_nothing_else(tmp_path, postgres_url):
    admin = psycopg.connect(postgres_url, autocommit=True)
    fill(admin, "%s")
    specs, rules = specs_and_rules(tmp_path)
    suffix = uuid.uuid4().hex[:10]
    role, login = f"analyst_{suffix}", f"alice_{suffix}"
    try:
        result = AnalystViews(Warehouse("postgres", postgres_url=postgres_url), SALT, role=role)
        outcome = result.refresh(specs, rules)
        assert outcome.role == role and outcome.location == "crm_analyst"
        assert outcome.tables == {"contacts": 3, "contacts_golden": 3, "contacts_crosswalk": 3}
        admin.execute(f"CREATE ROLE {login} LOGIN IN ROLE {role}")
        as_alice = postgres_url.replace("postgres@", f"{login}@", 1)
        assert as_alice != postgres_url

        with psycopg.connect(as_alice, autocommit=True) as alice:
            assert alice.execute("SELECT current_user").fetchone() == (login,)
            rows = alice.execute(f"SELECT _source_id, {COLUMNS} FROM crm_analyst.contacts")
            assert by_id(rows.fetchall()) == EXPECTED
            golden = alice.execute(
                f"SELECT substr(golden_id, 2), {COLUMNS} FROM crm_analyst.contacts_golden"
            )
            assert by_id(golden.fetchall()) == EXPECTED
            for table in (
                "raw_hubspot_acme.contacts",
                "crm.contacts",
                "crm.contacts_golden",
                "crm.contacts_quarantine",
                "platform_privacy.erasure_tombstones",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    alice.execute(f"SELECT * FROM {table}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                alice.execute("CREATE TABLE crm_analyst.mine (x int)")

        # a refresh keeps the grant (tables are recreated) and drops what is no longer wanted
        admin.execute("CREATE TABLE crm_analyst.stale (x int)")
        result.refresh(specs, rules)
        with psycopg.connect(as_alice, autocommit=True) as alice:
            assert alice.execute("SELECT COUNT(*) FROM crm_analyst.contacts").fetchone() == (3,)
        assert admin.execute("SELECT to_regclass('crm_analyst.stale')").fetchone() == (None,)
    finally:
        admin.execute(f"DROP OWNED BY {role}") if _exists(admin, role) else None
        for name in (login, role):
            if _exists(admin, name):
                admin.execute(f"DROP ROLE {name}")
        admin.close()


def _exists(conn, role: str) -> bool:
    return bool(conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone())


def test_dagster_asset_rebuilds_the_analyst_tables_downstream_of_mappings_and_dedup(
    tmp_path, monkeypatch
):
    import dagster as dg

    from core.settings import Settings
    from dagster_project.defs.privacy.definitions import privacy_definitions
    from dagster_project.resources import PlatformResource

    root = tmp_path / "mappings"
    (root / "match_rules").mkdir(parents=True)
    (root / "people.yaml").write_text(MAPPING)
    (root / "match_rules" / "contacts.yaml").write_text(RULES)
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("MAPPINGS_DIR", str(root))
    monkeypatch.setenv("SECRET_KEY", SALT)
    monkeypatch.setenv("WAREHOUSE", "duckdb")
    monkeypatch.delenv("DUCKDB_PATH", raising=False)
    conn = duckdb.connect(str(data / "warehouse.duckdb"))
    fill(conn, "?")
    # record 1 was erased, but is back in crm.contacts (and raw): the check must fail
    conn.execute(
        "INSERT INTO platform_privacy.erasure_tombstones VALUES "
        "('hubspot', 'acme', 'contacts', '1', NULL, 'r1', now())"
    )
    conn.close()

    @dg.asset(key=["crm", "contacts_golden"])
    def golden():  # stands in for the dedup asset
        return None

    upstream = dg.Definitions(assets=[golden])
    defs = privacy_definitions(upstream, Settings(MAPPINGS_DIR=root, _env_file=None))
    (analyst,) = defs.assets
    keys = sorted(k.to_user_string() for k in analyst.keys)
    assert keys == [
        "crm_analyst/contacts",
        "crm_analyst/contacts_crosswalk",
        "crm_analyst/contacts_golden",
    ]
    assert all(
        analyst.asset_deps[k] == {dg.AssetKey(["crm", "contacts_golden"])} for k in analyst.keys
    )

    result = dg.materialize([analyst], resources={"platform": PlatformResource(data_dir=str(data))})

    assert result.success
    rows = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("crm_analyst_tables")
    }
    assert rows["crm_analyst/contacts"]["dagster/row_count"].value == 3
    assert rows["crm_analyst/contacts"]["hashed_columns"].value == "full_name"
    (check,) = result.get_asset_check_evaluations()
    assert (check.asset_key.to_user_string(), check.check_name) == (
        "crm_analyst/contacts",
        "no_erased_records",
    )
    assert not check.passed
    assert check.metadata["erased_records_present"].value == {
        "raw_hubspot_acme.contacts": 1,
        "crm.contacts": 1,
    }
    analyst_file = duckdb.connect(str(data / "warehouse.analyst.duckdb"), read_only=True)
    try:
        assert analyst_file.execute(
            "SELECT email FROM crm_analyst.contacts WHERE _source_id = '1'"
        ).fetchone() == ("j***@example.com",)
    finally:
        analyst_file.close()


def test_cli_refresh_views_writes_the_analyst_file_and_tombstones_lists_erasures(tmp_path):
    from cli.main import main

    root = tmp_path / "mappings"
    (root / "match_rules").mkdir(parents=True)
    (root / "people.yaml").write_text(MAPPING)
    (root / "match_rules" / "contacts.yaml").write_text(RULES)
    data = tmp_path / "data"
    data.mkdir()
    conn = duckdb.connect(str(data / "warehouse.duckdb"))
    fill(conn, "?")
    conn.execute(
        "INSERT INTO platform_privacy.erasure_tombstones VALUES "
        "('hubspot', 'acme', 'contacts', '7', 'abc', 'r1', TIMESTAMPTZ '2026-01-02 03:04:05+00')"
    )
    conn.close()
    env = {"DATA_DIR": str(data), "MAPPINGS_DIR": str(root), "SECRET_KEY": SALT}

    out = CliRunner().invoke(main, ["privacy", "refresh-views"], env=env)

    assert out.exit_code == 0, out.output
    assert "crm_analyst.contacts: 3 rows" in out.output
    assert "warehouse.analyst.duckdb" in out.output
    listed = CliRunner().invoke(main, ["privacy", "tombstones"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "2026-01-02T03:04:05+00:00  hubspot/acme/contacts/7  request r1" in listed.output


@pytest.mark.postgres
def test_postgres_user_without_createrole_gets_a_clear_error_and_nothing_changes(
    tmp_path, postgres_url
):
    from core.errors import ValidationError

    admin = psycopg.connect(postgres_url, autocommit=True)
    fill(admin, "%s")
    suffix = uuid.uuid4().hex[:10]
    user, role = f"wh_{suffix}", f"analyst_{suffix}"
    dbname = postgres_url.rsplit("/", 1)[1]
    try:
        admin.execute(f"CREATE ROLE {user} LOGIN")  # no CREATEROLE
        admin.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO {user}')
        admin.execute(f"GRANT USAGE ON SCHEMA crm TO {user}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA crm TO {user}")
        as_user = postgres_url.replace("postgres@", f"{user}@", 1)
        specs, rules = specs_and_rules(tmp_path)
        views = AnalystViews(Warehouse("postgres", postgres_url=as_user), SALT, role=role)

        with pytest.raises(ValidationError, match=f"may not create the analyst role '{role}'"):
            views.refresh(specs, rules)

        assert admin.execute("SELECT to_regnamespace('crm_analyst')").fetchone() == (None,)
    finally:
        admin.execute(f"DROP OWNED BY {user}")
        admin.execute(f"DROP ROLE IF EXISTS {user}")
        admin.close()

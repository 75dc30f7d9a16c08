"""`platform warehouse shell`: SQL on the DuckDB warehouse through the project's own driver
(no duckdb CLI of a matching version needed), read-only, one-shot, piped or at a prompt."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from cli.main import main
from cli.warehouse import format_table


@pytest.fixture
def warehouse_env(data_dir):
    path = data_dir / "warehouse.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE SCHEMA raw_hubspot_demo")
    conn.execute("CREATE TABLE raw_hubspot_demo.contacts (id VARCHAR, email VARCHAR)")
    conn.execute("INSERT INTO raw_hubspot_demo.contacts VALUES ('1', 'a@x.io'), ('2', NULL)")
    conn.close()
    return {"DATA_DIR": str(data_dir), "WAREHOUSE": "duckdb", "DUCKDB_PATH": str(path)}


def run(env, *args: str, input: str | None = None):
    return CliRunner().invoke(main, ["warehouse", "shell", *args], env=env, input=input)


def test_one_shot_query_prints_a_table(warehouse_env):
    result = run(warehouse_env, "-c", "SELECT id, email FROM raw_hubspot_demo.contacts ORDER BY id")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split(" | ") == ["id", "email"]
    assert lines[2].split(" | ") == ["1 ", "a@x.io"]
    assert lines[3].split(" | ") == ["2 ", "NULL"]


def test_csv_output_for_scripts(warehouse_env):
    result = run(
        warehouse_env,
        "-c",
        "SELECT count(*) AS n FROM raw_hubspot_demo.contacts",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "n\n2\n"


def test_the_warehouse_is_opened_read_only(warehouse_env):
    result = run(warehouse_env, "-c", "DELETE FROM raw_hubspot_demo.contacts")
    assert result.exit_code == 1
    assert "read-only" in result.output
    conn = duckdb.connect(warehouse_env["DUCKDB_PATH"], read_only=True)
    assert conn.execute("SELECT count(*) FROM raw_hubspot_demo.contacts").fetchone() == (2,)


def test_piped_statements_run_as_a_script(warehouse_env):
    script = "SELECT 1 AS a;\nSELECT email FROM raw_hubspot_demo.contacts WHERE id = '1';\n"
    result = run(warehouse_env, input=script)
    assert result.exit_code == 0, result.output
    assert "a@x.io" in result.stdout and result.stdout.startswith("a\n")


def test_a_missing_warehouse_is_a_clear_error(data_dir):
    result = run(
        {"DATA_DIR": str(data_dir), "DUCKDB_PATH": str(data_dir / "none.duckdb")}, "-c", "SELECT 1"
    )
    assert result.exit_code == 1
    assert "no warehouse at" in result.output and "run a sync first" in result.output
    assert not (data_dir / "none.duckdb").exists()  # a read-only shell creates nothing


def test_prompt_commands(warehouse_env, monkeypatch):
    from cli import warehouse as cli_warehouse

    session = cli_warehouse.WarehouseSession._duckdb(warehouse_env["DUCKDB_PATH"])
    lines = iter(
        [".tables", ".schema raw_hubspot_demo.contacts", "SELECT", "42 AS answer;", ".quit"]
    )
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    printed = []
    monkeypatch.setattr(
        cli_warehouse.sys, "stdout", type("W", (), {"write": lambda self, s: printed.append(s)})()
    )
    session.repl("table", 100)
    out = "".join(printed)
    assert "raw_hubspot_demo.contacts" in out
    assert "email" in out and "VARCHAR" in out
    assert "answer" in out and "42" in out


def test_long_values_are_cut_and_newlines_shown():
    (_, _, row) = format_table(["v"], [("x" * 100 + "\n",)])
    assert len(row) == 60 and row.endswith("…")
    assert format_table(["v"], [("a\nb",)])[2] == "a\\nb"

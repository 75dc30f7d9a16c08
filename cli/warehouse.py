"""`platform warehouse shell`: SQL on the warehouse without installing a database client.

The `duckdb` command-line tool must be the same major version as the Python package that wrote
the file, which a newcomer rarely has; this shell uses the project's own driver instead. DuckDB
is opened read-only (a sync can't be disturbed, and nothing can be changed by mistake); a
Postgres warehouse gets a read-only session. `-c SQL` runs once and exits (scripts, CI); piped
input is run as a script; otherwise an interactive prompt reads statements ending in `;`.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from core.settings import get_settings

MAX_CELL = 60
HELP = """statements end with ';'. Commands:
  .tables          every table, schema-qualified
  .schema TABLE    the columns of TABLE (schema.table)
  .help            this text
  .quit / .exit    leave (or Ctrl-D)"""


@click.group()
def warehouse() -> None:
    """Query the warehouse (DuckDB or Postgres)."""


@warehouse.command("shell")
@click.option("-c", "--command", "sql", default=None, help="Run this SQL, print, exit.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv"]),
    default="table",
    show_default=True,
    help="How result rows are printed.",
)
@click.option("--max-rows", default=1000, show_default=True, help="Rows printed per result.")
@click.option(
    "--analyst",
    is_flag=True,
    help="Only the analyst tables (crm_analyst): DuckDB opens the separate analyst file, "
    "Postgres sets the analyst role (docs/privacy.md).",
)
def shell(sql: str | None, fmt: str, max_rows: int, analyst: bool) -> None:
    """Read-only SQL on the warehouse: `-c SQL` once, piped statements, or a prompt."""
    session = WarehouseSession.open(analyst=analyst)
    try:
        if sql is not None:
            session.run_script(sql, fmt, max_rows, sys.stdout)
        elif not sys.stdin.isatty():
            session.run_script(sys.stdin.read(), fmt, max_rows, sys.stdout)
        else:
            session.repl(fmt, max_rows)
    finally:
        session.close()


class WarehouseSession:
    """A read-only connection to the configured warehouse and how results are printed."""

    def __init__(self, conn: Any, kind: str, where: str) -> None:
        self.conn = conn
        self.kind = kind
        self.where = where

    @classmethod
    def open(cls, analyst: bool = False) -> WarehouseSession:
        settings = get_settings()
        if settings.WAREHOUSE == "postgres":
            session = cls._postgres(settings.WAREHOUSE_POSTGRES_URL)
            if analyst:  # what the role sees; analysts' own logins are what enforces it
                from privacy.views import ANALYST_ROLE

                session.conn.execute(f"SET ROLE {ANALYST_ROLE}")
            return session
        if analyst:
            from destinations.warehouse import Warehouse
            from privacy.views import analyst_duckdb_path

            path = analyst_duckdb_path(Warehouse("duckdb", duckdb_path=settings.duckdb_path))
            if not path.exists():
                raise click.ClickException(
                    f"no analyst file at {path} yet: run `platform privacy refresh-views`"
                )
            return cls._duckdb(str(path))
        return cls._duckdb(str(settings.duckdb_path))

    @classmethod
    def _duckdb(cls, path: str) -> WarehouseSession:
        import duckdb

        if not Path(path).exists():
            raise click.ClickException(
                f"no warehouse at {path} yet: run a sync first (e.g. `make demo`), or set "
                "DATA_DIR / DUCKDB_PATH"
            )
        try:
            conn = duckdb.connect(path, read_only=True)
        except duckdb.IOException as exc:
            raise click.ClickException(
                f"{path} is open for writing by another process (a sync?); DuckDB allows no "
                f"reader beside a writer: try again when it finishes ({exc})"
            ) from None
        return cls(conn, "duckdb", path)

    @classmethod
    def _postgres(cls, url: str | None) -> WarehouseSession:
        if not url:
            raise click.ClickException("WAREHOUSE=postgres needs WAREHOUSE_POSTGRES_URL")
        import psycopg

        from destinations.warehouse import _libpq_url

        try:
            conn = psycopg.connect(_libpq_url(url), autocommit=True)
        except psycopg.Error as exc:
            raise click.ClickException(f"cannot connect to the Postgres warehouse: {exc}") from None
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        return cls(conn, "postgres", conn.info.dbname)

    def close(self) -> None:
        self.conn.close()

    # --- running ---------------------------------------------------------------------------

    def results(self, sql: str) -> Iterator[tuple[list[str], list[tuple]]]:
        """(columns, rows) of every statement of `sql` that returns rows."""
        if self.kind == "duckdb":
            import duckdb

            for statement in duckdb.extract_statements(sql):
                cursor = self.conn.execute(statement)
                if cursor.description:
                    yield [d[0] for d in cursor.description], cursor.fetchall()
            return
        cursor = self.conn.cursor()
        cursor.execute(sql.encode())
        while True:
            if cursor.description:
                yield [d.name for d in cursor.description], cursor.fetchall()
            if not cursor.nextset():
                break

    def run_script(self, sql: str, fmt: str, max_rows: int, out: TextIO) -> None:
        """Run, print; a failing statement ends the run with its error (exit status 1)."""
        try:
            for columns, rows in self.results(sql):
                print_result(columns, rows, fmt, max_rows, out)
        except Exception as exc:  # the driver's own error classes differ per warehouse
            raise click.ClickException(_error_text(exc)) from None

    def repl(self, fmt: str, max_rows: int) -> None:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        click.echo(
            f"{self.kind} warehouse {self.where} (read-only). .help for commands, "
            "statements end with ';'",
            err=True,
        )
        buffer: list[str] = []
        while True:
            try:
                line = input("warehouse> " if not buffer else "      ...> ")
            except EOFError:
                click.echo(err=True)
                return
            except KeyboardInterrupt:
                click.echo(err=True)
                buffer.clear()
                continue
            if not buffer and line.strip().startswith("."):
                if self.dot_command(line.strip(), fmt, max_rows) is False:
                    return
                continue
            buffer.append(line)
            if line.rstrip().endswith(";"):
                statement = "\n".join(buffer)
                buffer.clear()
                try:
                    self.run_script(statement, fmt, max_rows, sys.stdout)
                except click.ClickException as exc:
                    click.echo(f"Error: {exc.message}", err=True)

    def dot_command(self, line: str, fmt: str, max_rows: int) -> bool:
        """False to leave the prompt."""
        name, _, arg = line.partition(" ")
        if name in (".quit", ".exit"):
            return False
        if name == ".tables":
            sql = self.tables_sql()
        elif name == ".schema" and arg.strip():
            sql = self.columns_sql(arg.strip())
        else:
            click.echo(HELP, err=True)
            return True
        try:
            self.run_script(sql, fmt, max_rows, sys.stdout)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.message}", err=True)
        return True

    @staticmethod
    def tables_sql() -> str:
        return (
            "SELECT table_schema || '.' || table_name AS table_name FROM "
            "information_schema.tables WHERE table_schema NOT IN "
            "('information_schema', 'pg_catalog') ORDER BY 1;"
        )

    @staticmethod
    def columns_sql(table: str) -> str:
        schema, _, name = table.rpartition(".")
        quoted = [part.replace("'", "''") for part in (schema, name)]
        where = f"table_name = '{quoted[1]}'"
        if schema:
            where += f" AND table_schema = '{quoted[0]}'"
        return (
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE {where} ORDER BY ordinal_position;"
        )


def print_result(
    columns: list[str], rows: Sequence[tuple], fmt: str, max_rows: int, out: TextIO
) -> None:
    shown = list(rows[:max_rows])
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in shown)
    else:
        for line in format_table(columns, shown):
            out.write(line + "\n")
    if len(rows) > len(shown):
        click.echo(f"({len(rows):,} rows, first {len(shown):,} shown; --max-rows)", err=True)
    elif fmt == "table":
        click.echo(f"({len(rows):,} row{'s' if len(rows) != 1 else ''})", err=True)


def format_table(columns: list[str], rows: Sequence[tuple]) -> list[str]:
    """Aligned columns under a header and a rule; long values cut at MAX_CELL characters."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
        "-+-".join("-" * w for w in widths),
    ]
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return [line.rstrip() for line in lines]


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _error_text(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

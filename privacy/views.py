"""The analyst-facing tables: schema `crm_analyst`, one table per canonical table, golden table
and crosswalk, with every declared personal column kept, masked or hashed by its policy.

They are materialised (rebuilt after every mapping/dedup run by the Dagster asset and after
every erasure), not live views: a salted hash computed at read time would need the salt in the
reader's session, i.e. the analyst would hold it. Here the salt is a session variable of the
rebuilding session only.

Where analysts read them:

- **Postgres**: schema `crm_analyst` in the warehouse, readable by the group role
  `platform_analyst` (USAGE on that schema and SELECT on its tables, nothing else; created
  NOLOGIN if missing). Grant it to analysts' logins; raw, crm, quarantine and the tombstones
  stay unreadable to them.
- **DuckDB** (no roles): a separate file beside the warehouse, `<warehouse>.analyst.duckdb`
  (`analyst_duckdb_path`), holding only the `crm_analyst` schema; it is replaced atomically,
  so a reader never blocks a sync. Give analysts that file, never the warehouse file
  (`platform warehouse shell --analyst` opens it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ValidationError
from destinations.warehouse import Warehouse
from mappings.dedup import MatchRules
from mappings.spec import MappingSpec
from privacy.connection import PrivacyConnection
from privacy.policy import ColumnPolicy, collect_policies, column_sql, quote

ANALYST_SCHEMA = "crm_analyst"
ANALYST_ROLE = "platform_analyst"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
EXPORT_ALIAS = "analyst_export"


@dataclass(frozen=True)
class AnalystTable:
    """One analyst table: where it reads from and the policy of each declared column."""

    name: str  # in crm_analyst
    source: str  # schema.table in the warehouse
    policies: dict[str, ColumnPolicy]


@dataclass
class AnalystViewsResult:
    tables: dict[str, int] = field(default_factory=dict)  # crm_analyst table -> rows
    masked: dict[str, list[str]] = field(default_factory=dict)  # table -> masked columns
    hashed: dict[str, list[str]] = field(default_factory=dict)
    location: str = ""  # the analyst DuckDB file, or the Postgres schema
    role: str | None = None


def analyst_duckdb_path(warehouse: Warehouse) -> Path:
    """`warehouse.duckdb` -> `warehouse.analyst.duckdb`, beside it."""
    assert warehouse.duckdb_path is not None
    path = warehouse.duckdb_path
    return path.with_name(f"{path.stem}.analyst{path.suffix or '.duckdb'}")


def analyst_tables(specs: list[MappingSpec], rules: list[MatchRules]) -> list[AnalystTable]:
    """Every canonical table some mapping writes, and its model's golden and crosswalk."""
    policies = collect_policies(specs)
    out: list[AnalystTable] = []
    for target in sorted(policies):
        out.append(AnalystTable(_name(target), target, policies[target]))
    for model in sorted(rules, key=lambda r: r.model):
        if model.source not in policies:
            continue
        out.append(AnalystTable(_name(model.golden), model.golden, policies[model.source]))
        out.append(AnalystTable(_name(model.crosswalk), model.crosswalk, {}))
    names = [t.name for t in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError(f"two analyst tables would be named {', '.join(duplicated)}")
    return out


def _name(qualified: str) -> str:
    schema, table = qualified.split(".", 1)
    return table if schema == "crm" else f"{schema}_{table}"


class AnalystViews:
    """Builds the analyst tables: `AnalystViews(warehouse, salt).refresh(specs, rules)`."""

    def __init__(
        self,
        warehouse: Warehouse,
        salt: str,
        *,
        role: str = ANALYST_ROLE,
        duckdb_path: Path | None = None,
    ) -> None:
        if not ROLE_NAME.match(role):
            raise ValidationError(f"{role!r} is not a role name (lower-case identifier)")
        self.warehouse = warehouse
        self.salt = salt
        self.role = role
        self.duckdb_path = duckdb_path

    def refresh(self, specs: list[MappingSpec], rules: list[MatchRules]) -> AnalystViewsResult:
        """Rebuild every analyst table; takes the DuckDB writer lock itself."""
        with self.warehouse.writer_lock(), PrivacyConnection.open(self.warehouse) as conn:
            return self.refresh_on(conn, specs, rules)

    def refresh_on(
        self, conn: PrivacyConnection, specs: list[MappingSpec], rules: list[MatchRules]
    ) -> AnalystViewsResult:
        """Rebuild on an open connection (the caller holds the DuckDB writer lock)."""
        wanted = [t for t in analyst_tables(specs, rules) if conn.table_exists(t.source)]
        conn.set_salt(self.salt)
        result = AnalystViewsResult()
        if conn.dialect == "duckdb":
            self._duckdb(conn, wanted, result)
        else:
            self._postgres(conn, wanted, result)
        return result

    def _select(self, conn: PrivacyConnection, table: AnalystTable, result) -> str:
        columns = conn.columns(table.source)
        exprs = []
        for column in columns:
            policy = table.policies.get(column)
            exprs.append(column_sql(column, policy, conn.dialect))
            if policy is not None and policy.policy == "mask":
                result.masked.setdefault(table.name, []).append(column)
            elif policy is not None and policy.policy == "hash":
                result.hashed.setdefault(table.name, []).append(column)
        return f"SELECT {', '.join(exprs)} FROM {table.source}"

    def _duckdb(self, conn: PrivacyConnection, wanted: list[AnalystTable], result) -> None:
        final = self.duckdb_path or analyst_duckdb_path(self.warehouse)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(final.name + ".tmp")
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        path = str(tmp).replace("'", "''")
        conn.execute(f"ATTACH '{path}' AS {EXPORT_ALIAS}")
        try:
            conn.execute(f"CREATE SCHEMA {EXPORT_ALIAS}.{ANALYST_SCHEMA}")
            for table in wanted:
                target = f"{EXPORT_ALIAS}.{ANALYST_SCHEMA}.{quote(table.name)}"
                conn.execute(f"CREATE TABLE {target} AS {self._select(conn, table, result)}")
                result.tables[table.name] = int(conn.rows(f"SELECT COUNT(*) FROM {target}")[0][0])
        finally:
            conn.execute(f"DETACH {EXPORT_ALIAS}")
        os.chmod(tmp, 0o640)
        os.replace(tmp, final)
        result.location = str(final)

    def _postgres(self, conn: PrivacyConnection, wanted: list[AnalystTable], result) -> None:
        schema, role = ANALYST_SCHEMA, self.role
        with conn.transaction():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for _, stale in conn.tables(schema):
                if stale not in {t.name for t in wanted}:
                    conn.execute(f"DROP TABLE {schema}.{quote(stale)}")
            for table in wanted:
                target = f"{schema}.{quote(table.name)}"
                conn.execute(f"DROP TABLE IF EXISTS {target}")
                conn.execute(f"CREATE TABLE {target} AS {self._select(conn, table, result)}")
                result.tables[table.name] = int(conn.rows(f"SELECT COUNT(*) FROM {target}")[0][0])
            if not conn.rows("SELECT 1 FROM pg_roles WHERE rolname = ?", [role]):
                _create_role(conn, role)
            conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
            conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
            conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        result.location = schema
        result.role = role


def _create_role(conn: PrivacyConnection, role: str) -> None:
    import psycopg

    try:
        conn.execute(f"CREATE ROLE {role} NOLOGIN")
    except psycopg.errors.InsufficientPrivilege:
        raise ValidationError(
            f"the warehouse user may not create the analyst role {role!r}; nothing was changed",
            hint=f"create it once as an administrator: CREATE ROLE {role} NOLOGIN",
        ) from None

"""Relations between golden records, built in the warehouse (DuckDB or Postgres).

For each declared relation (relation_rules.py), every link a source knows (a raw association
row, a link-table row, a lookup column of the canonical table) names two source records. Each
side is resolved through its model's crosswalk to a golden id; the pairs become a bridge table
(`crm.golden_<name>`: one row per pair of golden ids) and, where the relation declares a
`primary_column`, that column on the from model's golden table holds the one primary related
golden id (the pair most links mark primary, then the pair most links name, then the smallest
id).

Links whose from or to record has no crosswalk row (archived, quarantined, never synced) are
counted per link, never guessed. Every bridge and primary column is replaced in one transaction:
a failed run leaves the previous ones.

This module reads the crosswalks, canonical tables and raw link tables; it writes only the
bridge tables and the declared primary columns of golden tables (added if missing). It never
changes a golden row's other columns, a crosswalk or a canonical table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from core.clock import clock
from core.errors import ValidationError
from destinations.warehouse import Warehouse, dataset_name
from mappings.dedup.relation_rules import (
    AssociationLink,
    LinkTableLink,
    LookupLink,
    PrimaryMarker,
    Relation,
)
from mappings.dedup.rules import MatchRules
from mappings.dedup.session import DedupSession, DuckDBOptions
from mappings.dedup.sqlgen import literal, quote


class RelationError(ValidationError):
    """A relation cannot be built as declared (a missing crosswalk, a link table without a
    declared column, a primary column that a canonical column already owns): nothing was
    written."""


@dataclass
class LinkStats:
    """What one declared link contributed."""

    link: str
    rows: int = 0
    unresolved_from: int = 0
    unresolved_to: int = 0
    tables: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass
class RelationResult:
    name: str
    table: str
    from_model: str
    to_model: str
    from_golden_table: str
    to_golden_table: str
    primary_column: str | None
    links: list[LinkStats]
    rows: int = 0  # bridge rows (pairs of golden ids)
    link_rows: int = 0  # link rows read
    resolved: int = 0  # link rows with both sides resolved
    unresolved_from: int = 0
    unresolved_to: int = 0
    self_links: int = 0  # both sides in one golden record (same-model relations only)
    from_golden_rows: int = 0
    from_related: int = 0  # from golden records with at least one pair
    primary_set: int = 0  # from golden records whose primary column is set
    max_unresolved_ratio: float = 0.05

    @property
    def unresolved(self) -> int:
        """Link rows with at least one side unknown."""
        return self.link_rows - self.resolved - self.self_links

    @property
    def unresolved_ratio(self) -> float:
        return round(self.unresolved / self.link_rows, 6) if self.link_rows else 0.0

    @property
    def skipped(self) -> list[str]:
        return [s for link in self.links for s in link.skipped]


@dataclass
class RelationsResult:
    relations: list[RelationResult]
    seconds: float = 0.0

    def by_name(self, name: str) -> RelationResult:
        return next(r for r in self.relations if r.name == name)


class RelationsEngine:
    """`RelationsEngine(warehouse).run(relations, match_rules)`: every relation in one session
    and one write transaction."""

    def __init__(self, warehouse: Warehouse, *, duckdb_options: DuckDBOptions | None = None):
        self.warehouse = warehouse
        self.duckdb_options = duckdb_options

    def run(self, relations: list[Relation], models: list[MatchRules]) -> RelationsResult:
        started = time.perf_counter()
        by_model = {m.model: m for m in models}
        with DedupSession.open(self.warehouse, self.duckdb_options) as session:
            run = _Run(session, by_model, clock.now())
            results = [run.stage(i, relation) for i, relation in enumerate(relations)]
            run.write(relations, results)
            run.drop_temps(len(relations))
        return RelationsResult(results, round(time.perf_counter() - started, 3))


def _model(by_model: dict[str, MatchRules], relation: Relation, side: str) -> MatchRules:
    end = relation.from_ if side == "from" else relation.to
    rules = by_model.get(end.model)
    if rules is None:
        raise relation.error(f"no match rules for model {end.model!r}", side, "model")
    return rules


class _Run:
    def __init__(self, session: DedupSession, by_model: dict[str, MatchRules], run_at: datetime):
        self.s = session
        self.by_model = by_model
        self.run_at_sql = f"CAST('{run_at.isoformat()}' AS TIMESTAMPTZ)"

    # --- staging: links -> resolved golden pairs (temp tables) ------------------------------
    def stage(self, index: int, relation: Relation) -> RelationResult:
        s, t = self.s, self.s.text_type
        src, dst = _model(self.by_model, relation, "from"), _model(self.by_model, relation, "to")
        for rules in (src, dst):
            for table in (rules.crosswalk, rules.golden):
                if not s.table_exists(table):
                    raise RelationError(
                        f"relation {relation.name}: {table} does not exist",
                        hint=f"run the dedup of {rules.model} first",
                    )
        if relation.primary_column:
            canonical = (
                {c for c, _ in s.columns(src.source)} if s.table_exists(src.source) else set()
            )
            if relation.primary_column in canonical - set(src.exclude_fields):
                raise RelationError(
                    f"relation {relation.name}: primary_column {relation.primary_column!r} is "
                    f"a column of {src.source}, so {src.golden} already carries it",
                    hint="choose another primary_column name",
                )
        links = f"rel_links_{index}"
        s.execute(f"DROP TABLE IF EXISTS {links}")
        s.execute(
            f"CREATE TEMP TABLE {links} (link_idx INTEGER, from_source {t}, from_integration {t}, "
            f"from_id {t}, to_source {t}, to_integration {t}, to_id {t}, is_primary BOOLEAN)"
        )
        stats = []
        for i, link in enumerate(relation.links):
            stat = LinkStats(link.describe())
            for select in self._link_selects(i, link, src, dst, stat):
                s.execute(f"INSERT INTO {links} {select}")
            stats.append(stat)
        resolved = f"rel_resolved_{index}"
        s.execute(f"DROP TABLE IF EXISTS {resolved}")
        s.execute(
            f"CREATE TEMP TABLE {resolved} AS SELECT l.link_idx, l.is_primary, "
            "f.golden_id AS from_golden, g.golden_id AS to_golden "
            f"FROM {links} l LEFT JOIN {src.crosswalk} f ON f._source = l.from_source "
            "AND f._source_integration = l.from_integration AND f._source_id = l.from_id "
            f"LEFT JOIN {dst.crosswalk} g ON g._source = l.to_source "
            "AND g._source_integration = l.to_integration AND g._source_id = l.to_id"
        )
        same_model = src.model == dst.model
        for i, stat in enumerate(stats):
            rows, no_from, no_to = s.rows(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE from_golden IS NULL), "
                f"COUNT(*) FILTER (WHERE to_golden IS NULL) FROM {resolved} WHERE link_idx = {i}"
            )[0]
            stat.rows, stat.unresolved_from, stat.unresolved_to = (
                int(rows),
                int(no_from),
                int(no_to),
            )
        both = "from_golden IS NOT NULL AND to_golden IS NOT NULL"
        link_rows, ok, self_links = s.rows(
            f"SELECT COUNT(*), COUNT(*) FILTER (WHERE {both} AND from_golden <> to_golden), "
            f"COUNT(*) FILTER (WHERE {both} AND from_golden = to_golden) FROM {resolved}"
        )[0]
        if not same_model:  # two models' ids never collide: every resolved pair counts
            ok, self_links = int(ok) + int(self_links), 0
        return RelationResult(
            name=relation.name,
            table=relation.bridge,
            from_model=src.model,
            to_model=dst.model,
            from_golden_table=src.golden,
            to_golden_table=dst.golden,
            primary_column=relation.primary_column,
            links=stats,
            link_rows=int(link_rows),
            resolved=int(ok),
            unresolved_from=sum(x.unresolved_from for x in stats),
            unresolved_to=sum(x.unresolved_to for x in stats),
            self_links=int(self_links),
            max_unresolved_ratio=relation.max_unresolved_ratio,
        )

    def _link_selects(
        self, i: int, link, src: MatchRules, dst: MatchRules, stat: LinkStats
    ) -> list[str]:
        """SELECTs giving rel_links rows for one declared link (one per table read)."""
        t = self.s.text_type

        def ident(expr: str) -> str:
            return f"NULLIF(CAST({expr} AS {t}), '')"

        if isinstance(link, AssociationLink):
            selects = []
            for integration in self._integrations(link.provider, src, dst):
                table = f"{dataset_name(link.provider, integration)}.{link.table}"
                if not self.s.table_exists(table):
                    stat.skipped.append(f"{table} does not exist")
                    continue
                columns = {c for c, _ in self.s.columns(table)}
                self._require(table, columns, link.from_id, link.to_id, link.primary)
                removed = " AND _removed IS NOT TRUE" if "_removed" in columns else ""
                p, n = literal(link.provider), literal(integration)
                selects.append(
                    f"SELECT DISTINCT {i}, {p}, {n}, {ident(quote(link.from_id))}, {p}, {n}, "
                    f"{ident(quote(link.to_id))}, {self._primary(link.primary)} FROM {table} "
                    f"WHERE {quote(link.from_id)} IS NOT NULL AND {quote(link.to_id)} IS NOT NULL"
                    f"{removed}"
                )
                stat.tables += 1
            return selects
        if isinstance(link, LinkTableLink):
            if not self.s.table_exists(link.table):
                stat.skipped.append(f"{link.table} does not exist")
                return []
            columns = {c for c, _ in self.s.columns(link.table)}
            self._require(
                link.table,
                columns,
                "_source",
                "_source_integration",
                link.from_id,
                link.to_id,
                link.primary,
            )
            integ = "COALESCE(_source_integration, '')"
            stat.tables = 1
            return [
                f"SELECT DISTINCT {i}, _source, {integ}, {ident(quote(link.from_id))}, _source, "
                f"{integ}, {ident(quote(link.to_id))}, {self._primary(link.primary)} "
                f"FROM {link.table} WHERE {quote(link.from_id)} IS NOT NULL "
                f"AND {quote(link.to_id)} IS NOT NULL"
            ]
        assert isinstance(link, LookupLink)
        columns = (
            {c for c, _ in self.s.columns(src.source)} if self.s.table_exists(src.source) else set()
        )
        if link.column not in columns:
            stat.skipped.append(f"{src.source} has no column {link.column}")
            return []
        col = quote(link.column)
        only = f" AND _source = {literal(link.source)}" if link.source else ""
        integ = "COALESCE(_source_integration, '')"
        stat.tables = 1
        return [
            f"SELECT DISTINCT {i}, _source, {integ}, {ident('_source_id')}, _source, {integ}, "
            f"{ident(col)}, {'TRUE' if link.primary else 'FALSE'} FROM {src.source} "
            f"WHERE {ident(col)} IS NOT NULL AND _source_id IS NOT NULL{only}"
        ]

    def _integrations(self, provider: str, *models: MatchRules) -> list[str]:
        """The provider's integrations that either side's crosswalk holds records of."""
        mark = self.s.mark
        union = " UNION ".join(
            f"SELECT DISTINCT _source_integration AS i FROM {m.crosswalk} WHERE _source = {mark}"
            for m in models
        )
        rows = self.s.rows(f"SELECT i FROM ({union}) u ORDER BY i", [provider] * len(models))
        return [str(r[0]) for r in rows if r[0]]

    @staticmethod
    def _require(table: str, columns: set[str], *needed) -> None:
        names = [n.column if isinstance(n, PrimaryMarker) else n for n in needed if n]
        missing = [n for n in names if n not in columns]
        if missing:
            raise RelationError(
                f"{table} has no column {', '.join(missing)} that the relation declares",
                hint="fix the link's column names in the relation file",
            )

    def _primary(self, marker: PrimaryMarker | None) -> str:
        if marker is None:
            return "FALSE"
        col = quote(marker.column)
        if marker.labels is None:
            return f"COALESCE(CAST({col} AS BOOLEAN), FALSE)"
        t = self.s.text_type
        wrapped = f"(';' || COALESCE(CAST({col} AS {t}), '') || ';')"
        tests = " OR ".join(
            f"strpos({wrapped}, {literal(';' + x + ';')}) > 0" for x in marker.labels
        )
        return f"({tests})"

    # --- write: bridge tables and primary columns, in one transaction -----------------------
    def write(self, relations: list[Relation], results: list[RelationResult]) -> None:
        s, c = self.s, self.s.collate
        for relation in relations:
            s.ensure_schema(relation.bridge)
        with s.transaction():
            for index, (relation, result) in enumerate(zip(relations, results, strict=True)):
                resolved = f"rel_resolved_{index}"
                fcol, tcol = quote(relation.from_.column), quote(relation.to.column)
                distinct = (
                    " AND from_golden <> to_golden" if result.from_model == result.to_model else ""
                )
                ranked = (
                    "SELECT from_golden, to_golden, COUNT(*) FILTER (WHERE is_primary) AS "
                    "primary_links, COUNT(*) AS links FROM "
                    f"{resolved} WHERE from_golden IS NOT NULL AND to_golden IS NOT NULL{distinct} "
                    "GROUP BY from_golden, to_golden"
                )
                if relation.primary_column:
                    pick = (
                        "row_number() OVER (PARTITION BY from_golden ORDER BY primary_links DESC, "
                        f"links DESC, to_golden{c}) = 1"
                    )
                else:
                    pick = "FALSE"
                s.execute(f"DROP TABLE IF EXISTS {relation.bridge}")
                s.execute(
                    f"CREATE TABLE {relation.bridge} AS SELECT from_golden AS {fcol}, "
                    f"to_golden AS {tcol}, {pick} AS is_primary, primary_links, links AS _links, "
                    f"{self.run_at_sql} AS _loaded_at FROM ({ranked}) p"
                )
                result.rows, result.from_related = (
                    int(v)
                    for v in s.rows(
                        f"SELECT COUNT(*), COUNT(DISTINCT {fcol}) FROM {relation.bridge}"
                    )[0]
                )
                result.from_golden_rows = int(
                    s.scalar(f"SELECT COUNT(*) FROM {result.from_golden_table}")
                )
                if relation.primary_column:
                    result.primary_set = self._primary_column(relation, result)

    def _primary_column(self, relation: Relation, result: RelationResult) -> int:
        s, golden = self.s, result.from_golden_table
        col = quote(relation.primary_column or "")
        s.execute(f"ALTER TABLE {golden} ADD COLUMN IF NOT EXISTS {col} {s.text_type}")
        s.execute(f"UPDATE {golden} SET {col} = NULL WHERE {col} IS NOT NULL")
        s.execute(
            f"UPDATE {golden} SET {col} = b.{quote(relation.to.column)} FROM {relation.bridge} b "
            f"WHERE b.is_primary AND b.{quote(relation.from_.column)} = {golden}.golden_id"
        )
        return int(s.scalar(f"SELECT COUNT(*) FROM {golden} WHERE {col} IS NOT NULL"))

    def drop_temps(self, count: int) -> None:
        for index in range(count):
            self.s.execute(f"DROP TABLE IF EXISTS rel_links_{index}")
            self.s.execute(f"DROP TABLE IF EXISTS rel_resolved_{index}")


def relation_checks_sql(relation: Relation, result: RelationResult) -> dict[str, str]:
    """Counting queries whose every value must be 0 for the relation's tables to be sound."""
    bridge, fcol, tcol = relation.bridge, quote(relation.from_.column), quote(relation.to.column)
    out = {
        "pairs_without_from_golden": (
            f"SELECT COUNT(*) FROM {bridge} b WHERE NOT EXISTS (SELECT 1 FROM "
            f"{result.from_golden_table} g WHERE g.golden_id = b.{fcol})"
        ),
        "pairs_without_to_golden": (
            f"SELECT COUNT(*) FROM {bridge} b WHERE NOT EXISTS (SELECT 1 FROM "
            f"{result.to_golden_table} g WHERE g.golden_id = b.{tcol})"
        ),
        "repeated_pairs": (
            f"SELECT COUNT(*) FROM (SELECT {fcol}, {tcol} FROM {bridge} GROUP BY {fcol}, {tcol} "
            "HAVING COUNT(*) > 1) d"
        ),
        "records_with_two_primaries": (
            f"SELECT COUNT(*) FROM (SELECT {fcol} FROM {bridge} WHERE is_primary GROUP BY {fcol} "
            "HAVING COUNT(*) > 1) d"
        ),
    }
    if relation.primary_column:
        col = quote(relation.primary_column)
        out["primary_column_not_in_bridge"] = (
            f"SELECT COUNT(*) FROM {result.from_golden_table} g WHERE g.{col} IS NOT NULL AND "
            f"NOT EXISTS (SELECT 1 FROM {bridge} b WHERE b.is_primary AND b.{fcol} = g.golden_id "
            f"AND b.{tcol} = g.{col})"
        )
        out["related_records_without_primary"] = (
            f"SELECT COUNT(*) FROM (SELECT DISTINCT {fcol} AS gid FROM {bridge}) b WHERE NOT "
            f"EXISTS (SELECT 1 FROM {result.from_golden_table} g WHERE g.golden_id = b.gid "
            f"AND g.{col} IS NOT NULL)"
        )
    return out

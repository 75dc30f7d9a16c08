"""The column graph a mapping compiles into, emitted as layered CTEs.

Every intermediate value (a function step, a conversion, a rule check) is a named column. A
column sits one layer above the columns it reads, so each regular expression or cast runs once
per row, and Postgres cannot re-inline it (each layer ends in OFFSET 0, a planner fence).
Python work is a `PythonNode`: its distinct inputs are read from the layers below it, computed
in Python, and joined back as a lookup relation in its own layer.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mappings.sqlgen import Dialect, quote

Evaluate = Callable[[Sequence[tuple]], tuple[list[Any], list[bool]]]


@dataclass(frozen=True)
class Col:
    name: str
    layer: int
    category: str

    @property
    def ref(self) -> str:
        return quote(self.name)


@dataclass
class PythonNode:
    """Python work over the distinct values of `inputs` (rows where `domain` holds)."""

    id: str
    label: str
    layer: int
    key: Col
    inputs: list[Col]
    output_category: str
    domain: Col | None
    evaluate: Evaluate
    value: Col
    failed: Col

    @property
    def relation(self) -> str:
        return f"__lk_{self.id}"


@dataclass
class Frame:
    dialect: Dialect
    relation: str
    sample: int | None = None
    layers: dict[int, list[tuple[Col, str]]] = field(default_factory=lambda: defaultdict(list))
    joins: dict[int, list[PythonNode]] = field(default_factory=lambda: defaultdict(list))
    nodes: list[PythonNode] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=itertools.count)
    _memo: dict[tuple, Any] = field(default_factory=dict)
    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stage: tuple[int, str] | None = None
    produced_by: dict[str, PythonNode] = field(default_factory=dict)

    def _name(self) -> str:
        return f"__c{next(self._counter)}"

    def source(self, sql: str, category: str, name: str | None = None) -> Col:
        col = Col(name or self._name(), 0, category)
        self.layers[0].append((col, sql))
        return col

    def col(self, sql: str, *deps: Any, category: str) -> Col:
        """A column computing `sql` from `deps`; the same SQL is computed once (the text names
        its inputs, so equal text means equal value)."""
        memo = (sql, category)
        if memo in self._memo:
            return self._memo[memo]
        layer = 1 + max((d.layer for d in deps if hasattr(d, "layer")), default=0)
        col = Col(self._name(), layer, category)
        self.layers[layer].append((col, sql))
        self._memo[memo] = col
        self.deps[col.name] = tuple(d.name for d in deps if isinstance(d, Col))
        return col

    def node(
        self,
        label: str,
        inputs: list[Col],
        domain: Col | None,
        output_category: str,
        evaluate: Evaluate,
        *,
        nulls: bool = False,
        memo: tuple | None = None,
    ) -> PythonNode:
        """`nulls`: the Python side wants rows whose inputs are null too (templates).
        `memo`: what makes two nodes the same computation (then the first is reused)."""
        if memo is not None:
            memo = ("node", memo, tuple(c.name for c in inputs), domain.name if domain else None)
            if memo in self._memo:
                return self._memo[memo]
        if len(inputs) == 1 and not nulls:
            key = inputs[0]
        else:
            # JSON inputs go in as text: a JSON null and a SQL NULL must not share a key
            parts = [
                self.dialect.cast(c.ref, self.dialect.category_type("string"))
                if c.category == "json"
                else c.ref
                for c in inputs
            ]
            key = self.col(self.dialect.json_key(parts), *inputs, category="string")
        layer = 1 + max([key.layer, *(c.layer for c in inputs), domain.layer if domain else 0])
        node_id = f"n{len(self.nodes)}"
        relation = quote(f"__lk_{node_id}")
        value_type = self.dialect.category_type(output_category)
        value = Col(self._name(), layer, output_category)
        failed = Col(self._name(), layer, "boolean")
        self.layers[layer].append((value, f"CAST({relation}.__v AS {value_type})"))
        self.layers[layer].append((failed, f"coalesce({relation}.__f, FALSE)"))
        node = PythonNode(
            node_id, label, layer, key, inputs, output_category, domain, evaluate, value, failed
        )
        self.nodes.append(node)
        self.joins[layer].append(node)
        self.produced_by[value.name] = node
        self.produced_by[failed.name] = node
        if memo is not None:
            self._memo[memo] = node
        return node

    # --- emission ----------------------------------------------------------------------------

    def ctes(self, below: int | None = None) -> tuple[list[str], str]:
        """CTE definitions for the layers under `below` (all when None), and the last name.
        After `use_stage`, the layers under the stage boundary are read from the stage table."""
        if self.stage is not None:
            boundary, table = self.stage
            parts = [f"l{boundary - 1} AS (SELECT * FROM {quote(table)})"]
            previous = f"l{boundary - 1}"
        else:
            boundary = 1
            source_cols = ", ".join(f"{sql} AS {c.ref}" for c, sql in self.layers[0])
            limit = f" LIMIT {int(self.sample)}" if self.sample else ""
            parts = [f"l0 AS (SELECT {source_cols} FROM {self.relation} AS r{limit})"]
            previous = "l0"
        fence = " OFFSET 0" if self.dialect.name == "postgres" else ""
        for layer in sorted(k for k in self.layers if k >= boundary):
            if below is not None and layer >= below:
                break
            cols = ", ".join(f"{sql} AS {c.ref}" for c, sql in self.layers[layer])
            joins = "".join(
                f" LEFT JOIN {quote(n.relation)} ON {quote(n.relation)}.__k = "
                f"{previous}.{n.key.ref}"
                for n in self.joins.get(layer, [])
            )
            name = f"l{layer}"
            parts.append(f"{name} AS (SELECT {previous}.*, {cols} FROM {previous}{joins}{fence})")
            previous = name
        return parts, previous

    # --- staging: compute the layers under the first Python node once ------------------------

    def stage_boundary(self) -> int | None:
        """The lowest layer holding a Python node (None without nodes)."""
        return min((n.layer for n in self.nodes), default=None)

    def stage_sql(self, table: str, outputs: list[tuple[str, str]]) -> str:
        """CREATE TEMP TABLE for the layers under the boundary, keeping only the columns that
        later layers, lookups or outputs read. Without it, the node-input queries and the final
        query would each recompute those layers (the SQL fast paths are the costly part)."""
        boundary = self.stage_boundary()
        assert boundary is not None
        later = [sql for layer, cols in self.layers.items() if layer >= boundary for _, sql in cols]
        later += [sql for sql, _alias in outputs]
        later += [quote(c.name) for n in self.nodes for c in (n.key, *n.inputs, n.domain) if c]
        text = " ".join(later)
        live = [
            c
            for layer, cols in self.layers.items()
            if layer < boundary
            for c, _sql in cols
            if c.ref in text
        ]
        ctes, last = self.ctes(below=boundary)
        select = ", ".join(c.ref for c in live) or "1 AS __none"
        return f"CREATE TEMP TABLE {quote(table)} AS WITH {', '.join(ctes)} SELECT {select} FROM {last}"

    def use_stage(self, table: str) -> None:
        boundary = self.stage_boundary()
        assert boundary is not None
        self.stage = (boundary, table)

    def distinct_inputs_sql(self, node: PythonNode) -> str:
        ctes, last = self.ctes(below=node.layer)
        text = self.dialect.category_type("string")
        # JSON inputs travel as text: psycopg would parse jsonb, losing JSON null vs NULL
        inputs = [
            self.dialect.cast(c.ref, text) if c.category == "json" else c.ref for c in node.inputs
        ]
        columns = [node.key.ref] if inputs == [node.key.ref] else [node.key.ref, *inputs]
        where = [f"{node.key.ref} IS NOT NULL"]
        if node.domain is not None:
            where.append(f"{node.domain.ref}")
        return (
            f"WITH {', '.join(ctes)} SELECT DISTINCT {', '.join(columns)} "
            f"FROM {last} WHERE {' AND '.join(where)}"
        )

    def waves(self) -> list[list[PythonNode]]:
        """Nodes grouped so that no node depends on the output of a node in its own or a later
        wave: each wave's distinct inputs can be read in one pass."""
        wave_of: dict[str, int] = {}

        def upstream(names: list[str]) -> set[str]:
            found: set[str] = set()
            seen: set[str] = set()
            stack = list(names)
            while stack:
                name = stack.pop()
                if name in seen:
                    continue
                seen.add(name)
                if name in self.produced_by:
                    found.add(self.produced_by[name].id)
                    continue
                stack.extend(self.deps.get(name, ()))
            return found

        for node in sorted(self.nodes, key=lambda n: n.layer):
            names = [node.key.name, *(c.name for c in node.inputs)]
            if node.domain is not None:
                names.append(node.domain.name)
            before = upstream(names)
            wave_of[node.id] = 1 + max((wave_of[n] for n in before), default=0)
        waves: dict[int, list[PythonNode]] = defaultdict(list)
        for node in self.nodes:
            waves[wave_of[node.id]].append(node)
        return [waves[k] for k in sorted(waves)]

    def batch_inputs_sql(self, nodes: list[PythonNode]) -> str:
        """DuckDB: the distinct inputs of several independent nodes in one pass, one list column
        per node (single input: its keys; several: structs of key k and inputs i0, i1...)."""
        ctes, last = self.ctes(below=max(n.layer for n in nodes))
        columns = []
        for index, node in enumerate(nodes):
            condition = f"{node.key.ref} IS NOT NULL"
            if node.domain is not None:
                condition += f" AND {node.domain.ref}"
            if node.inputs == [node.key]:
                item = node.key.ref
            else:
                fields = [f"k := {node.key.ref}"] + [
                    f"i{i} := {c.ref}" for i, c in enumerate(node.inputs)
                ]
                item = f"struct_pack({', '.join(fields)})"
            columns.append(f"list(DISTINCT {item}) FILTER (WHERE {condition}) AS n{index}")
        return f"WITH {', '.join(ctes)} SELECT {', '.join(columns)} FROM {last}"

    def select_sql(self, outputs: list[tuple[str, str]]) -> str:
        ctes, last = self.ctes()
        select = ", ".join(f"{sql} AS {quote(alias)}" for sql, alias in outputs)
        return f"WITH {', '.join(ctes)} SELECT {select} FROM {last}"

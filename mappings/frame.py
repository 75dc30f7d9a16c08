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

    def _name(self) -> str:
        return f"__c{next(self._counter)}"

    def source(self, sql: str, category: str, name: str | None = None) -> Col:
        col = Col(name or self._name(), 0, category)
        self.layers[0].append((col, sql))
        return col

    def col(self, sql: str, *deps: Any, category: str) -> Col:
        layer = 1 + max((d.layer for d in deps if isinstance(d, Col)), default=0)
        col = Col(self._name(), layer, category)
        self.layers[layer].append((col, sql))
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
    ) -> PythonNode:
        """`nulls`: the Python side wants rows whose inputs are null too (templates)."""
        if len(inputs) == 1 and not nulls:
            key = inputs[0]
        else:
            key = self.col(
                self.dialect.json_key([c.ref for c in inputs]), *inputs, category="string"
            )
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
        return node

    # --- emission ----------------------------------------------------------------------------

    def ctes(self, below: int | None = None) -> tuple[list[str], str]:
        """CTE definitions for the layers under `below` (all when None), and the last name."""
        source_cols = ", ".join(f"{sql} AS {c.ref}" for c, sql in self.layers[0])
        limit = f" LIMIT {int(self.sample)}" if self.sample else ""
        parts = [f"l0 AS (SELECT {source_cols} FROM {self.relation} AS r{limit})"]
        previous = "l0"
        fence = " OFFSET 0" if self.dialect.name == "postgres" else ""
        for layer in sorted(k for k in self.layers if k > 0):
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

    def distinct_inputs_sql(self, node: PythonNode) -> str:
        ctes, last = self.ctes(below=node.layer)
        keys = [node.key] if node.inputs == [node.key] else [node.key, *node.inputs]
        where = [f"{node.key.ref} IS NOT NULL"]
        if node.domain is not None:
            where.append(f"{node.domain.ref}")
        return (
            f"WITH {', '.join(ctes)} SELECT DISTINCT {', '.join(c.ref for c in keys)} "
            f"FROM {last} WHERE {' AND '.join(where)}"
        )

    def select_sql(self, outputs: list[tuple[str, str]]) -> str:
        ctes, last = self.ctes()
        select = ", ".join(f"{sql} AS {quote(alias)}" for sql, alias in outputs)
        return f"WITH {', '.join(ctes)} SELECT {select} FROM {last}"

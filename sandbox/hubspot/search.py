"""The CRM search engine: validation, filter evaluation and index-backed candidate selection.

A single filter group sorted by the last-modified property streams the merged (base + overlay)
last-modified index from the filter's lower bound, so a page costs O(after + limit) even on
millions of records; `total` is computed arithmetically when no other filter applies.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sandbox.common.timefmt import parse_ms
from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.responses import ApiError
from sandbox.hubspot.schema import PropertyRegistry
from sandbox.hubspot.store import ObjectStore, Row

OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
RANGE_OPS = {"EQ", "LT", "LTE", "GT", "GTE", "BETWEEN"}
MAX_TS = 1 << 62
_TOKEN = re.compile(r"[^\w@.]+")
Predicate = Callable[[dict[str, str | None]], bool]


@dataclass
class Filter:
    prop: str
    op: str
    ptype: str
    value: Any = None
    values: list[Any] = field(default_factory=list)
    high: Any = None


@dataclass
class SearchQuery:
    groups: list[list[Filter]]
    sort_prop: str | None
    descending: bool
    limit: int
    after: int
    names: list[str]
    query: str | None


def _bad(message: str) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR")


def _parse_filter(f: Any, otype: ObjectType, registry: PropertyRegistry) -> Filter:
    """One validated filter of a search body (in a group or at the top level)."""
    if not isinstance(f, dict):
        raise _bad("Each filter must be an object with propertyName and operator.")
    name, op = f.get("propertyName"), f.get("operator")
    if op not in OPERATORS:
        raise _bad(f"Invalid operator: {op}")
    prop = registry.get(otype, str(name))
    if prop is None:
        raise _bad(f"Property {name} does not exist on {otype.name}.")
    values = f.get("values") or []
    if op in ("IN", "NOT_IN") and not values:
        raise _bad(f"Operator {op} requires `values`.")
    if op == "BETWEEN" and (f.get("value") is None or f.get("highValue") is None):
        raise _bad("Operator BETWEEN requires `value` and `highValue`.")
    if op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and f.get("value") is None:
        raise _bad(f"Operator {op} requires `value`.")
    return Filter(prop.name, op, prop.type, f.get("value"), list(values), f.get("highValue"))


def parse_query(
    body: dict[str, Any],
    otype: ObjectType,
    registry: PropertyRegistry,
    config: HubSpotSandboxConfig,
    names: list[str],
) -> SearchQuery:
    """Validate a search body against HubSpot's limits; raises ApiError (400)."""
    raw_groups = body.get("filterGroups") or []
    if len(raw_groups) > config.search_max_filter_groups:
        raise _bad(
            f"Too many filter groups ({len(raw_groups)}). "
            f"The maximum number of filter groups is {config.search_max_filter_groups}."
        )
    total = 0
    groups: list[list[Filter]] = []
    for group in raw_groups:
        raw_filters = (group or {}).get("filters") or []
        if len(raw_filters) > config.search_max_filters_per_group:
            raise _bad(
                f"Too many filters in a filter group ({len(raw_filters)}). "
                f"The maximum per group is {config.search_max_filters_per_group}."
            )
        total += len(raw_filters)
        groups.append([_parse_filter(f, otype, registry) for f in raw_filters])
    # A top-level `filters` array (beside or instead of filterGroups) is ANDed: HubSpot applies
    # it to every result, so it joins each group (or forms the only one). Ignoring it returns
    # rows the caller excluded, silently.
    top_raw = body.get("filters")
    top_raw = [] if top_raw is None else top_raw
    if not isinstance(top_raw, list):
        raise _bad("filters must be an array of filters")
    total += len(top_raw)
    top = [_parse_filter(f, otype, registry) for f in top_raw]
    if top:
        groups = [group + top for group in groups] if groups else [top]
    if total > config.search_max_filters_total:
        raise _bad(
            f"Too many filters ({total}). The maximum total number of filters is "
            f"{config.search_max_filters_total}."
        )
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        raise _bad("Only one sort is supported.")
    sort_prop, descending = None, False
    if sorts:
        s = sorts[0]
        if isinstance(s, str):
            descending, sort_prop = s.startswith("-"), s.lstrip("-")
        else:
            sort_prop = s.get("propertyName")
            descending = str(s.get("direction", "ASCENDING")).upper() == "DESCENDING"
        if registry.get(otype, str(sort_prop)) is None:
            raise _bad(f"Property {sort_prop} does not exist on {otype.name}.")
    try:
        limit = int(body.get("limit", 10))
        after = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise _bad("limit and after must be integers") from exc
    if limit < 0 or limit > config.search_limit_max:
        raise _bad(f"limit must be between 0 and {config.search_limit_max}, got {limit}")
    if after < 0:
        raise _bad("after must not be negative")
    if after >= config.search_result_cap:
        raise _bad(
            f"Search results are limited to {config.search_result_cap} records; paging past "
            "them (after >= {0}) is not allowed. Narrow the filters.".format(
                config.search_result_cap
            )
        )
    query = body.get("query")
    if query is not None and len(str(query)) > 3000:
        raise _bad("query must be at most 3000 characters")
    return SearchQuery(groups, sort_prop, descending, limit, after, names, query or None)


# --- filter evaluation --------------------------------------------------------------------
def _key(ptype: str, value: Any) -> Any:
    if value is None:
        return None
    if ptype in ("datetime", "date"):
        return parse_ms(value)
    if ptype == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if ptype == "enumeration":
        return str(value)
    return str(value).lower()


def _tokens(value: str) -> set[str]:
    return {t for t in _TOKEN.split(value.lower()) if t}


def compile_filter(f: Filter) -> Predicate:
    name, op, ptype = f.prop, f.op, f.ptype
    if op == "HAS_PROPERTY":
        return lambda p: p.get(name) not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return lambda p: p.get(name) in (None, "")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        needle = str(f.value).lower()
        wildcard = "*" in needle

        def contains(p: dict[str, str | None]) -> bool:
            value = p.get(name)
            if value is None:
                return False
            if wildcard:
                return fnmatch.fnmatchcase(value.lower(), needle) or any(
                    fnmatch.fnmatchcase(t, needle) for t in _tokens(value)
                )
            return needle in _tokens(value)

        if op == "CONTAINS_TOKEN":
            return contains
        return lambda p: not contains(p)
    if op in ("IN", "NOT_IN"):
        wanted = {_key(ptype, v) for v in f.values}
        if op == "IN":
            return lambda p: _key(ptype, p.get(name)) in wanted
        return lambda p: _key(ptype, p.get(name)) not in wanted
    target = _key(ptype, f.value)
    if op == "NEQ":
        return lambda p: _key(ptype, p.get(name)) != target
    high = _key(ptype, f.high)

    def ranged(p: dict[str, str | None]) -> bool:
        v = _key(ptype, p.get(name))
        if v is None or target is None:
            return False
        if op == "EQ":
            return v == target
        if op == "LT":
            return v < target
        if op == "LTE":
            return v <= target
        if op == "GT":
            return v > target
        if op == "GTE":
            return v >= target
        return high is not None and target <= v <= high

    return ranged


def _text_predicate(query: str, otype: ObjectType) -> Predicate:
    words = [w for w in _tokens(query)]

    def match(p: dict[str, str | None]) -> bool:
        tokens: set[str] = set()
        for name in otype.searchable:
            value = p.get(name)
            if value:
                tokens |= _tokens(value)
                tokens.add(value.lower())
        return all(any(t.startswith(w) for t in tokens) for w in words)

    return match


def _int_or_none(value: object) -> int | None:
    try:
        return int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _range_bounds(
    filters: list[Filter], prop: str, parse: Callable[[object], int | None], floor: int
) -> tuple[int, int] | None:
    """Inclusive (lo, hi) range implied by range filters on `prop`, if any."""
    lo, hi, seen = floor, MAX_TS, False
    for f in filters:
        if f.prop != prop or f.op not in RANGE_OPS:
            continue
        v = parse(f.value)
        if v is None:
            continue
        seen = True
        if f.op == "EQ":
            lo, hi = max(lo, v), min(hi, v)
        elif f.op == "GT":
            lo = max(lo, v + 1)
        elif f.op == "GTE":
            lo = max(lo, v)
        elif f.op == "LT":
            hi = min(hi, v - 1)
        elif f.op == "LTE":
            hi = min(hi, v)
        else:
            h = parse(f.high)
            lo = max(lo, v)
            hi = min(hi, h if h is not None else MAX_TS)
    return (lo, hi) if seen else None


def _ms_bounds(filters: list[Filter], prop: str) -> tuple[int, int] | None:
    """Inclusive (lo, hi) ms range implied by range filters on a date property, if any."""
    return _range_bounds(filters, prop, parse_ms, -MAX_TS)


def _id_bounds(filters: list[Filter]) -> tuple[int, int] | None:
    return _range_bounds(filters, "hs_object_id", _int_or_none, 0)


def _explicit_ids(filters: list[Filter], store: ObjectStore) -> set[int] | None:
    for f in filters:
        if f.prop == "hs_object_id" and f.op in ("EQ", "IN"):
            raw = [f.value] if f.op == "EQ" else f.values
            out = set()
            for v in raw:
                with contextlib.suppress(TypeError, ValueError):
                    out.add(int(float(v)))
            return out
        if f.prop == "email" and f.op in ("EQ", "IN") and store.otype.name == "contacts":
            raw = [f.value] if f.op == "EQ" else f.values
            found = (store.find_by_email(str(v)) for v in raw)
            return {rid for rid in found if rid is not None}
    return None


# --- execution ----------------------------------------------------------------------------
class SearchEngine:
    """Runs a validated query against one object store (caller holds the state lock)."""

    MATERIALIZE_MAX = 50_000

    def __init__(self, store: ObjectStore, now_ms: int) -> None:
        self.store = store
        self.now = now_ms
        self.lastmod = store.otype.lastmod_prop

    def run(self, q: SearchQuery) -> tuple[int, list[Row]]:
        text = _text_predicate(q.query, self.store.otype) if q.query else None
        groups = q.groups or [[]]
        if len(groups) == 1:
            return self._single(groups[0], q, text)
        return self._materialized(groups, q, text)

    def _residual(
        self, filters: list[Filter], skip: set[str], text: Predicate | None
    ) -> Predicate | None:
        preds = [compile_filter(f) for f in filters if not (f.prop in skip and f.op in RANGE_OPS)]
        if text is not None:
            preds.append(text)
        if not preds:
            return None
        return lambda p: all(pred(p) for pred in preds)

    def _single(
        self, filters: list[Filter], q: SearchQuery, text: Predicate | None
    ) -> tuple[int, list[Row]]:
        store = self.store
        if _explicit_ids(filters, store) is not None:
            return self._materialized([filters], q, text)
        lm = _ms_bounds(filters, self.lastmod)
        ids = _id_bounds(filters)
        if q.sort_prop == self.lastmod and ids is None:
            lo, hi = lm or (-MAX_TS, MAX_TS)
            residual = self._residual(filters, {self.lastmod}, text)
            stream = (rid for _, rid in store.iter_lastmod(lo, hi, q.descending))
            fast_total = None if residual else store.count_lastmod(lo, hi, self.now)
            return self._page(stream, residual, q, fast_total)
        if q.sort_prop in (None, "hs_object_id"):
            if lm is not None and store.count_lastmod(*lm, MAX_TS) <= self.MATERIALIZE_MAX:
                return self._materialized([filters], q, text)
            lo, hi = ids or (0, MAX_TS)
            residual = self._residual(filters, {"hs_object_id"}, text)
            if q.descending:
                stream = _take_while_ge(store.iter_live_ids_desc(hi + 1), lo)
            else:
                stream = _take_while_le(store.iter_live_ids(lo), hi)
            fast_total = None if residual else self._count_ids(lo, hi)
            return self._page(stream, residual, q, fast_total)
        return self._materialized([filters], q, text)

    def _count_ids(self, lo: int, hi: int) -> int:
        store = self.store
        base_lo = max(lo, store.base.first_id)
        base_hi = min(hi, store.base.end_id - 1)
        n = max(0, base_hi - base_lo + 1)
        for rid, ov in store.overlay.items():
            in_range = lo <= rid <= hi
            if not in_range:
                continue
            visible = not ov.archived and ov.visible_ms <= self.now
            if ov.is_base and not visible:
                n -= 1
            elif not ov.is_base and visible:
                n += 1
        return n

    def _page(
        self,
        stream: Iterator[int],
        residual: Predicate | None,
        q: SearchQuery,
        fast_total: int | None,
    ) -> tuple[int, list[Row]]:
        store, now = self.store, self.now
        visible = (rid for rid in stream if store.search_visible(rid, now))
        if residual is None:
            page_ids = list(islice(visible, q.after, q.after + q.limit))
            rows = [r for r in (store.get(rid) for rid in page_ids) if r is not None]
            return (fast_total if fast_total is not None else 0), rows
        rows: list[Row] = []
        total = 0
        for rid in visible:
            row = store.get(rid)
            if row is None or not residual(row.props):
                continue
            if q.after <= total < q.after + q.limit:
                rows.append(row)
            total += 1
        return total, rows

    def _materialized(
        self, groups: list[list[Filter]], q: SearchQuery, text: Predicate | None
    ) -> tuple[int, list[Row]]:
        store = self.store
        candidates: set[int] = set()
        full_scan = False
        for filters in groups:
            explicit = _explicit_ids(filters, store)
            lm = _ms_bounds(filters, self.lastmod)
            ids = _id_bounds(filters)
            if explicit is not None:
                candidates |= explicit
            elif lm is not None:
                candidates.update(rid for _, rid in store.iter_lastmod(*lm))
            elif ids is not None:
                candidates.update(_take_while_le(store.iter_live_ids(ids[0]), ids[1]))
            else:
                full_scan = True
                break
        if full_scan:
            candidates = set(store.iter_live_ids(0))
        preds = [[compile_filter(f) for f in filters] for filters in groups]
        matched: list[Row] = []
        for rid in candidates:
            if not store.is_live(rid) or not store.search_visible(rid, self.now):
                continue
            row = store.get(rid)
            if row is None:
                continue
            if text is not None and not text(row.props):
                continue
            if any(all(p(row.props) for p in group) for group in preds):
                matched.append(row)
        sort_prop = q.sort_prop or "hs_object_id"
        matched.sort(key=lambda r: r.id)
        if sort_prop != "hs_object_id" or q.descending:
            ptype = "datetime" if sort_prop in ("createdate", self.lastmod) else None
            matched.sort(key=lambda r: _sort_key(r, sort_prop, ptype), reverse=q.descending)
        return len(matched), matched[q.after : q.after + q.limit]


def _sort_key(row: Row, prop: str, ptype: str | None) -> tuple[int, Any]:
    if prop == "hs_object_id":
        return (0, row.id)
    value = row.props.get(prop)
    if value is None:
        return (2, "")
    if ptype == "datetime":
        return (0, parse_ms(value) or 0)
    try:
        return (0, float(value))
    except ValueError:
        return (1, value.lower())


def _take_while_le(stream: Iterator[int], hi: int) -> Iterator[int]:
    for rid in stream:
        if rid > hi:
            return
        yield rid


def _take_while_ge(stream: Iterator[int], lo: int) -> Iterator[int]:
    for rid in stream:
        if rid < lo:
            return
        yield rid

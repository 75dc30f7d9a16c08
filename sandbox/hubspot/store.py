"""Record storage for one object type: synthetic base records plus a small overlay of changes.

Only records that were created, updated or archived live in memory (`overlay`). A sorted
`(lastmodified_ms, id)` index over live overlay records, merged with the arithmetic index of the
base records, serves last-modified range scans without touching the rest of the data.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.common.timefmt import iso_ms, parse_ms
from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.synth import BaseRecords

_EMAIL_ID = re.compile(r"\.(\d+)@")


@dataclass(slots=True)
class Overlay:
    """The changed part of a record. For base records `props` holds only changed values."""

    props: dict[str, str | None]
    created_ms: int
    updated_ms: int
    is_base: bool
    archived: bool = False
    archived_ms: int | None = None
    visible_ms: int = 0  # search sees this version from this sandbox-clock instant


@dataclass(slots=True)
class Row:
    """A record's complete current state."""

    id: int
    props: dict[str, str | None]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None


class ObjectStore:
    """Base records + overlay for one object type. Callers hold the state lock for writes."""

    def __init__(self, otype: ObjectType, config: HubSpotSandboxConfig, count: int) -> None:
        self.otype = otype
        self.base = BaseRecords(otype, config, count)
        self.overlay: dict[int, Overlay] = {}
        self.lm_index: list[tuple[int, int]] = []  # (updated_ms, id) of live overlay records
        self.created_ids: list[int] = []  # ascending
        self.archived_ids: list[int] = []  # ascending
        self.next_id = self.base.end_id
        self.emails: dict[str, int] = {}  # overlay emails (contacts), lower-case
        self.live_count = count

    # --- reads ----------------------------------------------------------------------------
    def get(self, record_id: int) -> Row | None:
        """Current state of a record (archived ones included), or None when it never existed."""
        ov = self.overlay.get(record_id)
        i = self.base.index_of(record_id)
        if ov is None:
            if i is None:
                return None
            props, created = self.base.row_parts(i)
            return Row(record_id, props, created, self.base.lastmod(i))
        if ov.is_base and i is not None:
            props = self.base.props(i)
            props.update(ov.props)
        else:
            props = dict(ov.props)
        return Row(record_id, props, ov.created_ms, ov.updated_ms, ov.archived, ov.archived_ms)

    def get_live(self, record_id: int) -> Row | None:
        row = self.get(record_id)
        return None if row is None or row.archived else row

    def is_live(self, record_id: int) -> bool:
        ov = self.overlay.get(record_id)
        if ov is not None:
            return not ov.archived
        return self.base.index_of(record_id) is not None

    def lastmod_of(self, record_id: int) -> int | None:
        ov = self.overlay.get(record_id)
        if ov is not None:
            return ov.updated_ms
        i = self.base.index_of(record_id)
        return None if i is None else self.base.lastmod(i)

    def find_by_email(self, email: str) -> int | None:
        """Live contact id holding this email (case-insensitive), else None."""
        email = email.strip().lower()
        rid = self.emails.get(email)
        if rid is not None and self.is_live(rid):
            return rid
        m = _EMAIL_ID.search(email)
        if m is None:
            return None
        cand = int(m.group(1))
        if self.base.index_of(cand) is None or not self.is_live(cand):
            return None
        ov = self.overlay.get(cand)
        if ov is not None and "email" in ov.props:
            return None  # its email was changed; the overlay map is authoritative
        current = self.base.props(self.base.index_of(cand) or 0)["email"] or ""
        return cand if current.lower() == email else None

    def find_by_property(self, name: str, value: str) -> int | None:
        """Resolve `idProperty` lookups (hs_object_id, email)."""
        if name == "hs_object_id":
            try:
                rid = int(value)
            except ValueError:
                return None
            return rid if self.is_live(rid) else None
        if name == "email" and self.otype.name == "contacts":
            return self.find_by_email(value)
        return None

    def iter_live_ids(self, start_id: int) -> Iterator[int]:
        """Live ids ascending from start_id: base records, then created ones."""
        overlay = self.overlay
        for rid in range(max(start_id, self.base.first_id), self.base.end_id):
            ov = overlay.get(rid)
            if ov is None or not ov.archived:
                yield rid
        pos = bisect.bisect_left(self.created_ids, start_id)
        for rid in self.created_ids[pos:]:
            if not overlay[rid].archived:
                yield rid

    def iter_live_ids_desc(self, end_id: int) -> Iterator[int]:
        """Live ids descending, all < end_id."""
        overlay = self.overlay
        pos = bisect.bisect_left(self.created_ids, end_id)
        for rid in reversed(self.created_ids[:pos]):
            if not overlay[rid].archived:
                yield rid
        for rid in range(min(end_id, self.base.end_id) - 1, self.base.first_id - 1, -1):
            ov = overlay.get(rid)
            if ov is None or not ov.archived:
                yield rid

    def iter_archived_ids(self, start_id: int) -> Iterator[int]:
        pos = bisect.bisect_left(self.archived_ids, start_id)
        yield from self.archived_ids[pos:]

    def iter_lastmod(self, lo: int, hi: int, descending: bool = False) -> Iterator[tuple[int, int]]:
        """(lastmod_ms, id) of live records with lo <= lastmod <= hi, ordered by (lastmod, id)."""
        base = self.base
        i_lo = base.first_index_at_or_after(lo)
        i_hi = base.end_index_at_or_before(hi)
        a = bisect.bisect_left(self.lm_index, (lo, -1))
        b = bisect.bisect_right(self.lm_index, (hi, 1 << 62))
        overlay = self.overlay
        first_id, start, ties, step = base.first_id, base.start_ms, base.ties, base.step_ms
        if not descending:

            def base_iter() -> Iterator[tuple[int, int]]:
                for i in range(i_lo, i_hi):
                    rid = first_id + i
                    if rid not in overlay:
                        yield (start + (i // ties) * step, rid)

            return heapq.merge(base_iter(), self.lm_index[a:b])

        def base_iter_desc() -> Iterator[tuple[int, int]]:
            for i in range(i_hi - 1, i_lo - 1, -1):
                rid = first_id + i
                if rid not in overlay:
                    yield (start + (i // ties) * step, rid)

        return heapq.merge(base_iter_desc(), reversed(self.lm_index[a:b]), reverse=True)

    def count_lastmod(self, lo: int, hi: int, now_ms: int) -> int:
        """Number of live, search-visible records with lo <= lastmod <= hi, without scanning."""
        base = self.base
        n = max(0, base.end_index_at_or_before(hi) - base.first_index_at_or_after(lo))
        for rid, ov in self.overlay.items():
            if ov.is_base:
                i = base.index_of(rid)
                if i is not None and lo <= base.lastmod(i) <= hi:
                    n -= 1
        a = bisect.bisect_left(self.lm_index, (lo, -1))
        b = bisect.bisect_right(self.lm_index, (hi, 1 << 62))
        for _, rid in self.lm_index[a:b]:
            if self.overlay[rid].visible_ms <= now_ms:
                n += 1
        return n

    def search_visible(self, record_id: int, now_ms: int) -> bool:
        ov = self.overlay.get(record_id)
        return ov is None or ov.visible_ms <= now_ms

    # --- writes ---------------------------------------------------------------------------
    def _unindex(self, record_id: int, ov: Overlay) -> None:
        pos = bisect.bisect_left(self.lm_index, (ov.updated_ms, record_id))
        if pos < len(self.lm_index) and self.lm_index[pos] == (ov.updated_ms, record_id):
            del self.lm_index[pos]

    def _set_lastmod_props(self, props: dict[str, str | None], now_ms: int) -> None:
        props[self.otype.lastmod_prop] = iso_ms(now_ms)

    def update(
        self, record_id: int, values: dict[str, str | None], now_ms: int, visible_ms: int
    ) -> Row:
        """Apply property values to a live record; lastmodified becomes now."""
        ov = self.overlay.get(record_id)
        if ov is None:
            i = self.base.index_of(record_id)
            assert i is not None
            row = self.get(record_id)
            assert row is not None
            ov = Overlay({}, row.created_ms, row.updated_ms, is_base=True)
            self.overlay[record_id] = ov
        else:
            self._unindex(record_id, ov)
        if "email" in values and self.otype.name == "contacts":
            old = self.get(record_id)
            old_email = (old.props.get("email") or "").lower() if old else ""
            if self.emails.get(old_email) == record_id:
                del self.emails[old_email]
            if values["email"]:
                self.emails[str(values["email"]).lower()] = record_id
        ov.props.update(values)
        if "createdate" in values and values["createdate"]:
            ov.created_ms = parse_ms(values["createdate"]) or ov.created_ms
        ov.updated_ms = now_ms
        ov.visible_ms = visible_ms
        self._set_lastmod_props(ov.props, now_ms)
        bisect.insort(self.lm_index, (now_ms, record_id))
        row = self.get(record_id)
        assert row is not None
        return row

    def create(self, values: dict[str, str | None], now_ms: int, visible_ms: int) -> Row:
        record_id = self.next_id
        self.next_id += 1
        props: dict[str, str | None] = dict(values)
        created = parse_ms(values.get("createdate")) if values.get("createdate") else None
        props["createdate"] = iso_ms(created if created is not None else now_ms)
        props["hs_object_id"] = str(record_id)
        self._set_lastmod_props(props, now_ms)
        ov = Overlay(props, created if created is not None else now_ms, now_ms, is_base=False)
        ov.visible_ms = visible_ms
        self.overlay[record_id] = ov
        self.created_ids.append(record_id)
        bisect.insort(self.lm_index, (now_ms, record_id))
        if self.otype.name == "contacts" and props.get("email"):
            self.emails[str(props["email"]).lower()] = record_id
        self.live_count += 1
        row = self.get(record_id)
        assert row is not None
        return row

    def archive(self, record_id: int, now_ms: int) -> bool:
        """Archive a live record; False when it is not live."""
        if not self.is_live(record_id):
            return False
        ov = self.overlay.get(record_id)
        if ov is None:
            row = self.get(record_id)
            assert row is not None
            ov = Overlay({}, row.created_ms, row.updated_ms, is_base=True)
            self.overlay[record_id] = ov
        else:
            self._unindex(record_id, ov)
        ov.archived = True
        ov.archived_ms = now_ms
        bisect.insort(self.archived_ids, record_id)
        self.live_count -= 1
        return True

"""What the mutation paths call so every write reports its change to the webhook sender.

API routes leave `origin` unset (a write by this app: changeSource API); the admin routes pass
the CRM-UI origin. Callers hold the portal's state lock, so events queue in write order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.hubspot.associations import TYPE_IDS, Spec
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.store import Row
from sandbox.hubspot.webhooks.events import (
    Archived,
    Associated,
    ChangeOrigin,
    Created,
    Updated,
    changed_values,
)

if TYPE_CHECKING:
    from sandbox.hubspot.state import SandboxState


def on_created(
    st: SandboxState,
    otype: ObjectType,
    row: Row,
    values: dict[str, str | None],
    origin: ChangeOrigin | None = None,
) -> None:
    origin = origin or st.webhooks.api_origin()
    st.webhooks.record(Created(otype, row.id, dict(values), row.updated_ms, origin))


def on_updated(
    st: SandboxState,
    otype: ObjectType,
    before: Row,
    after: Row,
    values: dict[str, str | None],
    origin: ChangeOrigin | None = None,
) -> None:
    changes = changed_values(before.props, values)
    if changes:
        origin = origin or st.webhooks.api_origin()
        st.webhooks.record(Updated(otype, after.id, changes, after.updated_ms, origin))


def on_archived(
    st: SandboxState,
    otype: ObjectType,
    record_id: int,
    now_ms: int,
    origin: ChangeOrigin | None = None,
) -> None:
    origin = origin or st.webhooks.api_origin()
    st.webhooks.record(Archived(otype, record_id, now_ms, origin))


def archive(
    st: SandboxState,
    otype: ObjectType,
    record_id: int,
    now_ms: int,
    origin: ChangeOrigin | None = None,
) -> bool:
    """Archive a record and report the deletion; False (and no event) when it was not live."""
    archived = st.store(otype).archive(record_id, now_ms)
    if archived:
        on_archived(st, otype, record_id, now_ms, origin)
    return archived


def _link(st: SandboxState, frm: ObjectType, a: int, to: ObjectType, b: int) -> set[Spec] | None:
    return st.graph.links(frm.name, a, to.name).get(b)


def _is_primary(frm: ObjectType, to: ObjectType, specs: set[Spec] | None) -> bool:
    primary = TYPE_IDS.get((frm.name, to.name), (0, None))[1]
    return bool(specs) and primary is not None and any(t == primary for _, t in specs or ())


def add_association(
    st: SandboxState,
    frm: ObjectType,
    a: int,
    to: ObjectType,
    b: int,
    specs: set[Spec],
    origin: ChangeOrigin | None = None,
) -> None:
    """Associate two records; a new pair (or a new primary flag) fires associationChange."""
    if not st.webhooks.active:
        st.graph.add(frm.name, a, to.name, b, specs)
        return
    before = _link(st, frm, a, to, b)
    before_primary = (_is_primary(frm, to, before), _is_primary(to, frm, _link(st, to, b, frm, a)))
    st.graph.add(frm.name, a, to.name, b, specs)
    after_primary = (
        _is_primary(frm, to, _link(st, frm, a, to, b)),
        _is_primary(to, frm, _link(st, to, b, frm, a)),
    )
    if before is not None and before_primary == after_primary:
        return
    origin = origin or st.webhooks.api_origin()
    st.webhooks.record(Associated(frm, a, to, b, st.now_ms(), origin, False, *after_primary))


def remove_association(
    st: SandboxState,
    frm: ObjectType,
    a: int,
    to: ObjectType,
    b: int,
    origin: ChangeOrigin | None = None,
) -> None:
    """Remove an association; fires associationChange (removed) only if the pair existed."""
    if not st.webhooks.active:
        st.graph.remove(frm.name, a, to.name, b)
        return
    before = _link(st, frm, a, to, b)
    primary = (_is_primary(frm, to, before), _is_primary(to, frm, _link(st, to, b, frm, a)))
    st.graph.remove(frm.name, a, to.name, b)
    if before is None:
        return
    origin = origin or st.webhooks.api_origin()
    st.webhooks.record(Associated(frm, a, to, b, st.now_ms(), origin, True, *primary))

"""The audit log: who did what to which integration, and when.

Details are scrubbed before they are written: any key that smells of a secret is replaced by
"[redacted]" at any depth. Callers must still never pass a secret value under an innocent key;
this module must never store or log one.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from core.clock import clock
from pipelines.control_db import ControlDatabase
from pipelines.models import AuditEntry, from_epoch

REDACTED = "[redacted]"
SECRET_KEY_PATTERN = re.compile(
    r"token|secret|password|code_verifier|code|key|authorization", re.IGNORECASE
)


def scrub(value: Any) -> Any:
    """A copy of `value` with every secret-looking key's value replaced, recursively."""
    if isinstance(value, dict):
        return {
            str(k): REDACTED if SECRET_KEY_PATTERN.search(str(k)) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class AuditLog:
    """Append-only record of operations, with scrubbed details."""

    def __init__(self, db: ControlDatabase) -> None:
        self._db = db

    def record(
        self,
        action: str,
        *,
        actor: str,
        integration_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(self._db.audit_log).values(
                    at=clock.time(),
                    actor=actor,
                    action=action,
                    integration_id=integration_id,
                    details=scrub(details or {}),
                )
            )

    def list(self, integration_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        t = self._db.audit_log
        stmt = sa.select(t).order_by(t.c.id.desc()).limit(limit)
        if integration_id is not None:
            stmt = stmt.where(t.c.integration_id == integration_id)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        return [
            AuditEntry(
                id=r.id,
                at=from_epoch(r.at),
                actor=r.actor,
                action=r.action,
                integration_id=r.integration_id,
                details=r.details or {},
            )
            for r in rows
        ]

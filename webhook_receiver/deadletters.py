"""Dead letters: list them and send them back for processing (CLI and Dagster job share this).

A dead letter is an event whose processing failed after the last retry (or that no route
matched); the inbox keeps it with the reason. Replaying puts it back to pending with its attempts
reset, and the webhook sensor picks it up on its next tick. Replaying everything needs an
explicit `replay_all`, so an empty selection never replays a whole backlog by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import ValidationError
from inbox import DeadLetter, Inbox


def list_dead_letters(
    inbox: Inbox, *, integration_id: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    return inbox.dead_letters(integration_id=integration_id, limit=limit)


def replay_dead_letters(
    inbox: Inbox,
    *,
    ids: Sequence[int] | None = None,
    integration_id: str | None = None,
    replay_all: bool = False,
) -> int:
    """Replay the selected dead letters (by event id and/or integration); returns how many."""
    if not ids and integration_id is None and not replay_all:
        raise ValidationError(
            "choose dead letters to replay: event ids, an integration, or all",
            hint="platform webhooks deadletters replay --id N | --integration X | --all",
        )
    return inbox.replay_dead_letters(list(ids) if ids else None, integration_id=integration_id)


def describe(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as plain data for printing (no payload or headers: they may be large)."""
    return {
        "event_id": letter.event_id,
        "integration_id": letter.integration_id,
        "provider": letter.provider,
        "event_type": letter.event_type,
        "object_type": letter.object_type,
        "object_id": letter.object_id,
        "attempts": letter.attempts,
        "dead_at": letter.dead_at.isoformat(),
        "reason": letter.reason,
    }

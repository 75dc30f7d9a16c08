"""The credential vault: every secret the platform keeps is encrypted here before its first write.

Fernet via MultiFernet: the first `ENCRYPTION_KEY` encrypts, every listed key decrypts, `rotate()`
re-encrypts with the first. Each plaintext is wrapped with the row it belongs to, so a ciphertext
copied onto another row does not decrypt there. This module must never write, log, return in an
error or `repr` a plaintext secret or a key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.clock import clock
from core.errors import AuthenticationError
from pipelines.control_db import ControlDatabase

KEY_HINT = (
    "set ENCRYPTION_KEY to one or more comma-separated Fernet keys; generate one with "
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def key_fingerprint(key: str) -> str:
    """A short, non-reversible name for a key, safe to store and print."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class CredentialVault:
    """Encrypted key/value store of secrets per (integration, kind), plus the refresh lock."""

    def __init__(self, db: ControlDatabase, keys: list[str]) -> None:
        self._db = db
        fernets: list[Fernet] = []
        for position, key in enumerate(keys):
            try:
                fernets.append(Fernet(key.encode() if isinstance(key, str) else key))
            except (ValueError, TypeError):
                raise AuthenticationError(
                    f"ENCRYPTION_KEY entry #{position + 1} is not a valid Fernet key",
                    hint=KEY_HINT,
                ) from None
        self._fernet = MultiFernet(fernets) if fernets else None
        self._primary_fingerprint = key_fingerprint(keys[0]) if keys else None

    def __repr__(self) -> str:
        return f"CredentialVault(db={self._db!r}, primary_key={self._primary_fingerprint})"

    # -- sealing ----------------------------------------------------------------------------

    def _require_fernet(self, purpose: str) -> MultiFernet:
        if self._fernet is None:
            raise AuthenticationError(
                f"no encryption key configured: refusing to {purpose}", hint=KEY_HINT
            )
        return self._fernet

    def seal(self, binding: str, value: Any) -> tuple[str, str]:
        """Encrypt `value` bound to `binding`; returns (ciphertext, key fingerprint)."""
        fernet = self._require_fernet("store a secret")
        plaintext = json.dumps({"bound_to": binding, "value": value}, separators=(",", ":"))
        return fernet.encrypt(plaintext.encode()).decode(), self._primary_fingerprint or ""

    def unseal(self, binding: str, ciphertext: str) -> Any:
        fernet = self._require_fernet("read a stored secret")
        try:
            envelope = json.loads(fernet.decrypt(ciphertext.encode()))
        except InvalidToken:
            raise AuthenticationError(
                "a stored secret cannot be decrypted with any configured ENCRYPTION_KEY",
                hint="keep the old key listed after the new one until `secrets rotate` has run",
            ) from None
        if envelope.get("bound_to") != binding:
            raise AuthenticationError("a stored secret belongs to another row; refusing it")
        return envelope["value"]

    # -- credentials ------------------------------------------------------------------------

    def put(self, integration_id: str, kind: str, value: dict[str, Any]) -> None:
        ciphertext, fingerprint = self.seal(_binding(integration_id, kind), value)
        with self._db.begin() as conn:
            self._db.upsert(
                conn,
                self._db.credentials,
                {
                    "integration_id": integration_id,
                    "kind": kind,
                    "ciphertext": ciphertext,
                    "key_fingerprint": fingerprint,
                    "updated_at": clock.time(),
                },
            )

    def get(self, integration_id: str, kind: str) -> dict[str, Any] | None:
        t = self._db.credentials
        with self._db.read() as conn:
            ciphertext = conn.execute(
                sa.select(t.c.ciphertext).where(
                    t.c.integration_id == integration_id, t.c.kind == kind
                )
            ).scalar_one_or_none()
        if ciphertext is None:
            return None
        return self.unseal(_binding(integration_id, kind), ciphertext)

    def kinds(self, integration_id: str) -> list[str]:
        """Which kinds of secret are stored for an integration (names only)."""
        t = self._db.credentials
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(t.c.kind).where(t.c.integration_id == integration_id).order_by(t.c.kind)
            )
            return [r.kind for r in rows]

    def delete(self, integration_id: str, kind: str | None = None) -> None:
        t = self._db.credentials
        stmt = sa.delete(t).where(t.c.integration_id == integration_id)
        if kind is not None:
            stmt = stmt.where(t.c.kind == kind)
        with self._db.begin() as conn:
            conn.execute(stmt)

    # -- rotation and locking ---------------------------------------------------------------

    def rotate(self) -> int:
        """Re-encrypt every credential and OAuth verifier with the primary key; returns count."""
        fernet = self._require_fernet("rotate secrets")
        fingerprint = self._primary_fingerprint
        count = 0
        with self._db.begin() as conn:
            for table, column in (
                (self._db.credentials, "ciphertext"),
                (self._db.oauth_states, "code_verifier_ciphertext"),
            ):
                pk = list(table.primary_key.columns)
                for row in conn.execute(sa.select(*pk, table.c[column])).all():
                    try:
                        rotated = fernet.rotate(row._mapping[column].encode()).decode()
                    except InvalidToken:
                        raise AuthenticationError(
                            "a stored secret cannot be decrypted with any configured key; "
                            "nothing was rotated",
                            hint="list the key it was written with after the new one",
                        ) from None
                    where = [c == row._mapping[c.name] for c in pk]
                    conn.execute(
                        sa.update(table)
                        .where(*where)
                        .values({column: rotated, "key_fingerprint": fingerprint})
                    )
                    count += 1
        return count

    @contextmanager
    def refresh_lock(self, integration_id: str) -> Iterator[None]:
        """Serialize token refresh for one integration across threads and processes."""
        with self._db.exclusive(f"refresh:{integration_id}"):
            yield


def _binding(integration_id: str, kind: str) -> str:
    return f"credentials/{integration_id}/{kind}"

"""OAuth authorization codes, access and refresh tokens, and static (private app / API key)
tokens a sandbox's auth server issues and its API accepts.

How a token looks is the provider's (`TokenFormats`); the mechanics are shared. Access-token
expiry is measured on the sandbox clock, so tests can expire a token by moving the
clock instead of waiting. With a `path`, refresh tokens are kept in that JSON file too, so a
sandbox restarted with the same file (the demo's, then `make dev`'s) still honours the refresh
tokens an integration holds; access tokens are never persisted (a client refreshes on 401).
This module issues and remembers; it never decides who may call what.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


def _opaque() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenFormats:
    """How the provider's access tokens, refresh tokens and authorization codes look."""

    access: Callable[[], str] = _opaque
    refresh: Callable[[], str] = _opaque
    code: Callable[[], str] = lambda: secrets.token_hex(18)


@dataclass(slots=True)
class AuthCode:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    challenge: str | None
    method: str | None
    used: bool = False


@dataclass(slots=True)
class AccessToken:
    token: str
    expires_ms: int
    scopes: list[str]
    refresh_token: str | None
    client_id: str


@dataclass(slots=True)
class RefreshToken:
    token: str
    scopes: list[str]
    client_id: str


@dataclass
class TokenStore:
    """All credentials issued by one sandbox app."""

    private_app_tokens: set[str] = field(default_factory=set)  # static tokens, never expire
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    path: Path | None = None
    formats: TokenFormats = field(default_factory=TokenFormats)

    def __post_init__(self) -> None:
        if self.path is not None and self.path.exists():
            stored = json.loads(self.path.read_text() or "[]")
            self.refresh.update({rt["token"]: RefreshToken(**rt) for rt in stored})

    def issue_code(self, code: AuthCode) -> str:
        value = self.formats.code()
        self.codes[value] = code
        return value

    def issue_access(
        self, scopes: list[str], client_id: str, refresh: str | None, now_ms: int, ttl_s: int
    ) -> AccessToken:
        token = self.formats.access()
        at = AccessToken(token, now_ms + ttl_s * 1000, scopes, refresh, client_id)
        self.access[token] = at
        return at

    def issue_refresh(self, scopes: list[str], client_id: str) -> RefreshToken:
        rt = RefreshToken(self.formats.refresh(), scopes, client_id)
        self.refresh[rt.token] = rt
        self._save()
        return rt

    def drop_refresh(self, token: str) -> None:
        """Forget a refresh token (revoked, or replaced by rotation)."""
        if self.refresh.pop(token, None) is not None:
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        scratch.write_text(json.dumps([asdict(rt) for rt in self.refresh.values()]))
        scratch.chmod(0o600)
        scratch.replace(self.path)


def s256(verifier: str) -> str:
    """RFC 7636 S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

"""How HubSpot's OAuth tokens look (`CN...` access tokens, `na1-...` refresh tokens), for the
shared token store (`sandbox.common.tokens`). Formats only: issuing and checking live there and
in the OAuth routes."""

from __future__ import annotations

import secrets

from sandbox.common.tokens import TokenFormats


def _access() -> str:
    return "CN" + secrets.token_urlsafe(48)


def _refresh() -> str:
    return "na1-" + "-".join(secrets.token_hex(n) for n in (2, 2, 2, 2, 6))


HUBSPOT_TOKENS = TokenFormats(access=_access, refresh=_refresh)

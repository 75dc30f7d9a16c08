"""Test support for the control plane: a control database per backend and a fake HubSpot token
endpoint (a tiny local HTTP server, independent of the sandbox), plus a refresh worker that
multiprocessing can spawn.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from pipelines.control_db import ControlDatabase

BACKENDS = ["sqlite", "postgres"]


def open_control_db(request: pytest.FixtureRequest, tmp_path: Path) -> ControlDatabase:
    """A fresh control database with tables, on the backend `request.param` names."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = ControlDatabase(url)
    db.create_all()
    request.addfinalizer(db.dispose)
    return db


class FakeTokenEndpoint:
    """HubSpot's `POST /oauth/v1/token`: issues and rotates tokens, counts refreshes.

    Accepts authorization codes registered with `expect_code` (checking the PKCE challenge),
    rotates the refresh token on every refresh (the old one then answers BAD_REFRESH_TOKEN), and
    can fail the next requests with 5xx or sleep before answering.
    """

    def __init__(self, client_id: str = "client-id", client_secret: str = "client-secret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.codes: dict[str, str] = {}  # code -> expected S256 challenge
        self.valid_refresh_tokens: set[str] = set()
        self.refreshes = 0
        self.exchanges = 0
        self.requests: list[dict[str, str]] = []
        self.fail_next: list[int] = []
        self.refresh_delay_s = 0.0
        self.expires_in = 1800
        self._serial = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeTokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def expect_code(self, code: str, code_verifier: str) -> None:
        self.codes[code] = create_s256_code_challenge(code_verifier)

    def issue_refresh_token(self) -> str:
        with self.lock:
            return self._new_refresh_token()

    def _new_refresh_token(self) -> str:
        self._serial += 1
        token = f"refresh-{self._serial}"
        self.valid_refresh_tokens.add(token)
        return token

    def _tokens(self) -> dict[str, Any]:
        self._serial += 1
        return {
            "access_token": f"access-{self._serial}",
            "refresh_token": self._new_refresh_token(),
            "expires_in": self.expires_in,
            "token_type": "bearer",
            "hub_id": 62515,
            "scopes": ["crm.objects.contacts.read"],
        }

    def answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(form)
            if self.fail_next:
                return self.fail_next.pop(0), {"status": "error", "message": "internal error"}
            if form.get("client_id") != self.client_id:
                return 400, {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}
            if form.get("client_secret") != self.client_secret:
                return 400, {"status": "BAD_CLIENT_SECRET", "message": "missing or invalid secret"}
            grant = form.get("grant_type")
            if grant == "authorization_code":
                challenge = self.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                if challenge is None or create_s256_code_challenge(verifier) != challenge:
                    return 400, {
                        "status": "BAD_AUTH_CODE",
                        "message": "missing or invalid auth code",
                    }
                self.exchanges += 1
                return 200, self._tokens()
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self.valid_refresh_tokens:
                    return 400, {
                        "status": "BAD_REFRESH_TOKEN",
                        "message": "missing or invalid refresh token",
                    }
                self.valid_refresh_tokens.discard(token)  # rotation: one use only
                self.refreshes += 1
                delay = self.refresh_delay_s
                body = self._tokens()
        if grant == "refresh_token":
            time.sleep(delay)
            return 200, body
        return 400, {"status": "BAD_GRANT_TYPE", "message": "unsupported grant_type"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path != "/oauth/v1/token":
                    status, body = 404, {"status": "error", "message": "not found"}
                else:
                    status, body = endpoint.answer(form)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def hubspot_oauth(
    client_id: str, client_secret: str, api_base: str, auth_base: str, **kw: Any
) -> Any:
    """The generic OAuth client driven by HubSpot's endpoints for these bases."""
    from core.settings import Settings
    from sources.common.oauth import OAuthClient
    from sources.hubspot import PROVIDER

    config = PROVIDER.config_schema(api_base=api_base, auth_base=auth_base)
    endpoints = PROVIDER.auth.oauth_endpoints(config, Settings(_env_file=None))
    return OAuthClient(
        endpoints, client_id, client_secret, provider=PROVIDER.name, title=PROVIDER.title, **kw
    )


def refresh_worker(
    db_url: str, keys: list[str], integration_id: str, api_base: str, start: Any, results: Any
) -> None:
    """In a spawned process: wait for the start signal, then ask for an access token."""
    from pipelines.audit import AuditLog
    from pipelines.credentials import OAuthTokenProvider
    from pipelines.vault import CredentialVault

    db = ControlDatabase(db_url)
    vault = CredentialVault(db, keys)
    oauth = hubspot_oauth("client-id", "client-secret", api_base=api_base, auth_base=api_base)
    provider = OAuthTokenProvider(integration_id, vault, oauth, AuditLog(db))
    start.wait(30)
    try:
        results.put(("ok", provider.access_token()))
    except Exception as exc:  # noqa: BLE001 - report any failure to the parent
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        db.dispose()

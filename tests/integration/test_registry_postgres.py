"""Token refresh serialized across OS processes (SQLite and Postgres), and Postgres specifics."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from core.clock import clock
from pipelines.audit import AuditLog
from pipelines.credentials import OAUTH_TOKEN
from pipelines.vault import CredentialVault
from sources.common.tokens import TokenSet
from tests.control_support import BACKENDS, FakeTokenEndpoint, open_control_db, refresh_worker


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    return open_control_db(request, tmp_path)


def test_two_processes_refresh_an_expiring_token_exactly_once(db, encryption_key):
    vault = CredentialVault(db, [encryption_key])
    with FakeTokenEndpoint() as endpoint:
        endpoint.refresh_delay_s = 0.5  # widen the window in which both could refresh
        vault.put(
            "hs1",
            OAUTH_TOKEN,
            TokenSet(
                access_token="old-access",
                refresh_token=endpoint.issue_refresh_token(),
                expires_at=clock.time() + 60,  # inside the 300 s skew: both want to refresh
            ).to_vault(),
        )
        ctx = multiprocessing.get_context("spawn")
        start, results = ctx.Event(), ctx.Queue()
        url = db.engine.url.render_as_string(hide_password=False)
        workers = [
            ctx.Process(
                target=refresh_worker,
                args=(url, [encryption_key], "hs1", endpoint.base_url, start, results),
            )
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        time.sleep(2.0)  # let both processes import and park on the start signal
        start.set()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(30)

    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    tokens = {token for _, token in outcomes}
    assert len(tokens) == 1 and "old-access" not in tokens
    assert endpoint.refreshes == 1
    stored = TokenSet.from_vault(vault.get("hs1", OAUTH_TOKEN))
    assert stored.access_token.get_secret_value() in tokens
    assert [e.action for e in AuditLog(db).list("hs1")] == ["credentials.refreshed"]


def test_postgres_refresh_locks_are_per_integration(request, tmp_path, encryption_key):
    request.param = "postgres"
    db = open_control_db(request, tmp_path)
    vault = CredentialVault(db, [encryption_key])
    holding, release = threading.Event(), threading.Event()

    def hold_hs1() -> None:
        with vault.refresh_lock("hs1"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_hs1)
    holder.start()
    holding.wait(5)
    started = time.monotonic()
    with vault.refresh_lock("hs2"):  # another integration does not wait for hs1
        waited = time.monotonic() - started
    release.set()
    holder.join()
    assert waited < 2
    assert db.url.startswith("postgresql+psycopg://")

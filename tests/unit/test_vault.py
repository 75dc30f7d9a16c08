"""The credential vault: encrypted before the first write, rotation, missing keys, the lock."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from core.errors import AuthenticationError
from pipelines.control_db import ControlDatabase, normalize_url
from pipelines.vault import CredentialVault
from tests.control_support import BACKENDS, open_control_db

SECRET = {"access_token": "pat-na1-0f9c2c1e-very-secret", "refresh_token": "rt-also-secret"}


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path) -> ControlDatabase:
    return open_control_db(request, tmp_path)


def all_stored_text(db: ControlDatabase) -> str:
    with db.engine.connect() as conn:
        rows = [
            *conn.execute(sa.select(db.credentials)).all(),
            *conn.execute(sa.select(db.oauth_states)).all(),
        ]
    return repr(rows)


def test_round_trip_and_ciphertext_never_contains_plaintext(db, encryption_key):
    vault = CredentialVault(db, [encryption_key])
    vault.put("hs1", "oauth_token", SECRET)
    assert vault.get("hs1", "oauth_token") == SECRET
    stored = all_stored_text(db)
    for value in SECRET.values():
        assert value not in stored
    assert encryption_key not in stored
    assert vault.get("hs1", "missing") is None
    assert vault.kinds("hs1") == ["oauth_token"]


def test_put_replaces_the_previous_value(db, encryption_key):
    vault = CredentialVault(db, [encryption_key])
    vault.put("hs1", "oauth_token", {"access_token": "one"})
    vault.put("hs1", "oauth_token", {"access_token": "two"})
    assert vault.get("hs1", "oauth_token") == {"access_token": "two"}


def test_missing_key_is_a_clear_error_and_nothing_is_written(db):
    vault = CredentialVault(db, [])
    with pytest.raises(AuthenticationError, match="no encryption key configured") as err:
        vault.put("hs1", "oauth_token", SECRET)
    assert "ENCRYPTION_KEY" in err.value.hint
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.credentials)).scalar() == 0


def test_invalid_key_is_rejected_without_echoing_it():
    with pytest.raises(AuthenticationError, match="not a valid Fernet key") as err:
        CredentialVault(ControlDatabase("sqlite://"), ["not-a-key-but-secret-looking"])
    assert "not-a-key-but-secret-looking" not in str(err.value)


def test_rotation_new_key_first_then_old_key_removed_still_decrypts(db):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    CredentialVault(db, [old]).put("hs1", "oauth_token", SECRET)
    CredentialVault(db, [old]).put("hs2", "client_secret", {"value": "shh"})

    assert CredentialVault(db, [new, old]).rotate() == 2

    only_new = CredentialVault(db, [new])
    assert only_new.get("hs1", "oauth_token") == SECRET
    assert only_new.get("hs2", "client_secret") == {"value": "shh"}
    with pytest.raises(AuthenticationError, match="cannot be decrypted"):
        CredentialVault(db, [old]).get("hs1", "oauth_token")


def test_rotation_without_the_old_key_fails_and_rotates_nothing(db):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    CredentialVault(db, [old]).put("hs1", "oauth_token", SECRET)
    with pytest.raises(AuthenticationError):
        CredentialVault(db, [new]).rotate()
    assert CredentialVault(db, [old]).get("hs1", "oauth_token") == SECRET


def test_ciphertext_copied_to_another_row_does_not_decrypt(db, encryption_key):
    vault = CredentialVault(db, [encryption_key])
    vault.put("hs1", "oauth_token", SECRET)
    vault.put("hs2", "oauth_token", {"access_token": "other"})
    t = db.credentials
    with db.begin() as conn:
        stolen = conn.execute(
            sa.select(t.c.ciphertext).where(t.c.integration_id == "hs1")
        ).scalar_one()
        conn.execute(sa.update(t).where(t.c.integration_id == "hs2").values(ciphertext=stolen))
    with pytest.raises(AuthenticationError, match="belongs to another row"):
        vault.get("hs2", "oauth_token")


def test_delete_one_kind_or_all(db, encryption_key):
    vault = CredentialVault(db, [encryption_key])
    vault.put("hs1", "a", {"v": 1})
    vault.put("hs1", "b", {"v": 2})
    vault.delete("hs1", "a")
    assert vault.kinds("hs1") == ["b"]
    vault.delete("hs1")
    assert vault.kinds("hs1") == []


def test_repr_names_no_key(db, encryption_key):
    vault = CredentialVault(db, [encryption_key])
    assert encryption_key not in repr(vault)


def test_refresh_lock_serializes_threads_and_commits_work_done_under_it(db, encryption_key):
    vault = CredentialVault(db, [encryption_key])
    inside = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with vault.refresh_lock("hs1"):
            inside.set()
            vault.put("hs1", "oauth_token", {"access_token": "from-holder"})
            time.sleep(0.4)
            order.append("holder-done")

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)
    with vault.refresh_lock("hs1"):
        order.append("waiter-in")
        assert vault.get("hs1", "oauth_token") == {"access_token": "from-holder"}
    thread.join()
    assert order == ["holder-done", "waiter-in"]


def test_postgres_urls_use_psycopg3():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    db = ControlDatabase(f"sqlite:///{tmp_path / 'c.sqlite'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000

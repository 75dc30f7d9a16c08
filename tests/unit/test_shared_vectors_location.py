"""The shared vectors are read from `<repo>/../shared` only: never an absolute path, never an
environment override, so a run cannot silently test against another checkout's vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import shared_vectors


def _shared(root: Path) -> Path:
    folder = root / "shared" / "vectors"
    folder.mkdir(parents=True)
    (folder / "signatures.json").write_text(json.dumps([]))
    return root / "shared"


def test_the_folder_beside_the_repository_is_used(tmp_path, monkeypatch):
    shared = _shared(tmp_path)
    monkeypatch.setattr(shared_vectors, "REPO_ROOT", tmp_path / "repo")
    assert shared_vectors.shared_dir() == shared


def test_no_fallback_outside_the_repository(tmp_path, monkeypatch):
    elsewhere = _shared(tmp_path / "elsewhere")
    monkeypatch.setenv("SHARED_DIR", str(elsewhere))
    monkeypatch.setattr(shared_vectors, "REPO_ROOT", tmp_path / "lonely" / "repo")
    with pytest.raises(FileNotFoundError, match="beside the repository"):
        shared_vectors.shared_dir()

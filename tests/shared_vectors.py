"""The official signature/PKCE test vectors from `shared/vectors/signatures.json`.

The shared folder sits beside the repository (`../shared`), in CI as on a developer's machine;
SHARED_DIR overrides. A missing file fails the tests that need it: these vectors are mandatory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    candidates = [os.environ.get("SHARED_DIR"), REPO_ROOT.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "vectors" / "signatures.json").exists():
            return Path(candidate)
    raise FileNotFoundError("shared/vectors/signatures.json not found beside the repository")


def vectors(scheme: str | None = None, provider: str | None = None) -> list[dict]:
    items = json.loads((shared_dir() / "vectors" / "signatures.json").read_text())
    return [
        v
        for v in items
        if (scheme is None or v["scheme"] == scheme)
        and (provider is None or v["provider"] == provider)
    ]

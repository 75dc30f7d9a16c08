"""The official signature/PKCE test vectors from `shared/vectors/signatures.json`.

The shared folder sits beside the repository (`<repo>/../shared`), in CI as on a developer's
machine, and is read only from there: no absolute path and no override, so a test run can
never pick up vectors from some other checkout. A missing file fails the tests that need it:
these vectors are mandatory.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`<repo>/../shared`, or FileNotFoundError naming where it was looked for."""
    candidate = REPO_ROOT.parent / "shared"
    if (candidate / "vectors" / "signatures.json").exists():
        return candidate
    raise FileNotFoundError(
        f"{candidate / 'vectors' / 'signatures.json'} not found: the shared folder must sit "
        "beside the repository"
    )


def vectors(scheme: str | None = None, provider: str | None = None) -> list[dict]:
    items = json.loads((shared_dir() / "vectors" / "signatures.json").read_text())
    return [
        v
        for v in items
        if (scheme is None or v["scheme"] == scheme)
        and (provider is None or v["provider"] == provider)
    ]

"""Shared benchmark plumbing: a sandbox process, a throwaway data directory, child-process
measurement of wall time and peak RSS, and table printing. Never used by product code."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

PRIVATE_APP_TOKEN = "pat-na1-00000000-0000-0000-0000-000000000000"


def fresh_settings(root: Path, **extra: Any):
    from core.settings import Settings

    # Benchmarks run against the local sandbox: its http://127.0.0.1 base passes the host policy.
    extra.setdefault("ALLOW_LOCAL_PROVIDER_HOSTS", True)
    return Settings(
        DATA_DIR=root, ENCRYPTION_KEY=Fernet.generate_key().decode(), _env_file=None, **extra
    )


def register_integration(settings, base_url: str, integration_id: str = "bench") -> str:
    from pipelines.registry import IntegrationRegistry

    registry = IntegrationRegistry.from_settings(settings)
    registry.create(
        organization_id="bench",
        user_id="bench",
        type="hubspot",
        name="bench",
        config={"api_base": base_url, "auth_base": base_url},
        integration_id=integration_id,
        actor="bench",
    )
    registry.set_private_app_token(integration_id, PRIVATE_APP_TOKEN, actor="bench")
    return integration_id


def _child(target: Callable[..., dict], args: tuple, queue: mp.Queue) -> None:
    started = time.perf_counter()
    out = target(*args)
    # Targets time their own work (imports and setup excluded); fall back to the whole call.
    out.setdefault("seconds", time.perf_counter() - started)
    out["peak_rss_mb"] = peak_rss_mb()
    queue.put(json.dumps(out))


def peak_rss_mb() -> float:
    """This process's own peak RSS. Linux carries `ru_maxrss` across exec, so a spawned child
    would report its parent's peak at fork time when that is higher (a benchmark parent that
    holds 200k digests showed ~350 MB for a bare fetch); VmHWM belongs to this image alone."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_in_child(target: Callable[..., dict], *args: Any) -> dict:
    """Run target in a fresh process so its peak RSS is its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, queue))
    proc.start()
    result = json.loads(queue.get())
    proc.join()
    return result


def temp_root(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("BENCH_TMP")))


def print_table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")

"""Run a sandbox app over real HTTP: in a background thread (`SandboxServer`) or in a separate
OS process (`start_sandbox_process`, for benchmarks: gunicorn gthread, 1 worker × 8 threads, so
all state stays in one process)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from sandbox.hubspot.config import HubSpotSandboxConfig
from sandbox.wsgi_server import KeepAliveWSGIServer


class SandboxServer:
    """Serves a WSGI app on 127.0.0.1 in a daemon thread (HTTP/1.1 keep-alive, threaded)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: KeepAliveWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self) -> str:
        """Start serving; returns the base URL, e.g. `http://127.0.0.1:54321`."""
        self._server = KeepAliveWSGIServer((self.host, self.port), self.app)
        port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sandbox-{port}", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxProcess:
    """A sandbox running in a child process; `stop()` terminates it."""

    def __init__(self, proc: subprocess.Popen[bytes], base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox_process(
    config: HubSpotSandboxConfig, port: int = 0, server: str = "gunicorn", timeout: float = 30.0
) -> SandboxProcess:
    """Launch `python -m sandbox serve` in a new process and wait for `/_sandbox/health`."""
    port = port or _free_port()
    cmd = [
        sys.executable,
        "-m",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--server",
        server if shutil.which("gunicorn") or server != "gunicorn" else "builtin",
        "--config-json",
        config.model_dump_json(),
    ]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    # stderr goes to a file, never a pipe nobody drains: a full pipe would freeze the server.
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log_file.seek(0)
            err = log_file.read().decode(errors="replace")
            raise RuntimeError(f"sandbox process exited early ({proc.returncode}): {err[-2000:]}")
        try:
            if httpx.get(base_url + "/_sandbox/health", timeout=1.0).status_code == 200:
                return SandboxProcess(proc, base_url)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"sandbox process did not answer on {base_url} within {timeout}s")

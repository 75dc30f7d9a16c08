"""Run any provider's sandbox app over real HTTP: in a background thread (`SandboxServer`), in
the foreground until interrupted (`serve_forever`: gunicorn gthread, 1 worker × N threads, so all
state stays in one process; or the built-in keep-alive server), or in a separate OS process
(`start_sandbox_process`, which runs `python -m sandbox serve`). Names no provider.
"""

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
from pydantic import BaseModel

from sandbox.common.wsgi_server import KeepAliveWSGIServer


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
    config: BaseModel,
    port: int = 0,
    server: str = "gunicorn",
    timeout: float = 30.0,
    provider: str | None = None,
) -> SandboxProcess:
    """Launch `python -m sandbox serve` in a new process and wait for `/_sandbox/health`.

    The provider defaults to the sandbox package the config class lives in
    (`sandbox.<provider>.config`).
    """
    provider = provider or type(config).__module__.split(".")[1]
    port = port or _free_port()
    cmd = [
        sys.executable,
        "-m",
        "sandbox",
        "serve",
        "--provider",
        provider,
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


def serve_forever(
    app: Any, host: str, port: int, server: str = "gunicorn", threads: int = 8
) -> None:
    """Serve `app` in this process until SIGINT/SIGTERM."""
    if server == "builtin":
        srv = SandboxServer(app, host, port)
        srv.start()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            srv.stop()
        return
    _run_gunicorn(app, host, port, threads)


def _run_gunicorn(app: Any, host: str, port: int, threads: int) -> None:
    import contextlib
    import socket

    from gunicorn.app.base import BaseApplication
    from gunicorn.workers import gthread

    original_init = gthread.TConn.__init__

    def nodelay_init(self: Any, cfg: Any, sock: Any, client: Any, server: Any) -> None:
        # headers and body go out in separate writes: without TCP_NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every response
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        original_init(self, cfg, sock, client, server)

    gthread.TConn.__init__ = nodelay_init  # type: ignore[method-assign]

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": f"{host}:{port}",
                "workers": 1,  # all sandbox state lives in one process
                "worker_class": "gthread",
                "threads": threads,
                "keepalive": 75,
                "limit_request_line": 0,
                "accesslog": None,
                "loglevel": "warning",
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    _App().run()

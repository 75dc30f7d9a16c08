"""CLI: `python -m sandbox serve --port 8765 --seed 42 --contacts 5000 ...` serves the HubSpot
sandbox until killed (gunicorn gthread 1×8 by default, or the built-in keep-alive server)."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sys
from typing import Any

import click

from sandbox.hubspot.config import HubSpotSandboxConfig


@click.group()
def cli() -> None:
    """Provider API sandboxes."""


def _config(config_json: str | None, overrides: dict[str, Any]) -> HubSpotSandboxConfig:
    data: dict[str, Any] = json.loads(config_json) if config_json else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return HubSpotSandboxConfig(**data)


@cli.command()
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--server", type=click.Choice(["gunicorn", "builtin"]), default="gunicorn")
@click.option("--threads", type=int, default=8, show_default=True)
@click.option("--seed", type=int)
@click.option("--contacts", type=int)
@click.option("--companies", type=int)
@click.option("--deals", type=int)
@click.option("--custom-properties", type=int)
@click.option("--ten-second-limit", type=int)
@click.option("--daily-limit", type=int)
@click.option("--search-per-second", type=int)
@click.option("--config-json", help="full HubSpotSandboxConfig as JSON (options override it)")
@click.option("--webhook-url", help="send signed webhook batches of every change to this URL")
@click.option("--webhook-secret", help="signing secret (default: the app's OAuth client secret)")
@click.option("--webhook-signature-version", type=click.Choice(["v1", "v2", "v3"]))
@click.option(
    "--webhook-subscription",
    multiple=True,
    help="eventType[:propertyName], repeatable (default: creation, deletion, propertyChange "
    "and associationChange of contacts, companies, deals)",
)
def serve(
    port: int,
    host: str,
    server: str,
    threads: int,
    config_json: str | None,
    webhook_url: str | None,
    webhook_secret: str | None,
    webhook_signature_version: str | None,
    webhook_subscription: tuple[str, ...],
    **overrides: Any,
) -> None:
    """Serve the HubSpot sandbox (API, OAuth and /_sandbox/ admin on one base URL)."""
    from sandbox.hubspot.app import create_app
    from sandbox.hubspot.webhooks.settings import cli_webhooks

    webhooks = cli_webhooks(
        webhook_url, webhook_secret, webhook_signature_version, webhook_subscription
    )
    if webhooks:
        base = json.loads(config_json).get("webhooks", {}) if config_json else {}
        overrides["webhooks"] = {**base, **webhooks}
    try:
        config = _config(config_json, overrides)
    except ValueError as exc:  # pydantic's ValidationError included
        raise click.ClickException(str(exc)) from exc
    app = create_app(config)
    base_url = f"http://{host}:{port}"
    click.echo(base_url, err=False)
    sys.stdout.flush()
    if server == "builtin":
        from sandbox.server import SandboxServer

        srv = SandboxServer(app, host, port)
        srv.start()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            signal.pause()
        finally:
            srv.stop()
        return
    _run_gunicorn(app, host, port, threads)


def _run_gunicorn(app: Any, host: str, port: int, threads: int) -> None:
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


if __name__ == "__main__":
    cli()

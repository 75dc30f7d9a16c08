"""`platform webhooks ...`: serve the receiver, and its dead letters (`cli.deadletters`).

A click group so more commands can join it; this module only parses options and hands over to
gunicorn. It never holds receiver logic.
"""

from __future__ import annotations

import os
import sys

import click

from cli.deadletters import deadletters
from core.settings import get_settings

GUNICORN_CONFIG = "python:webhook_receiver.gunicorn_config"
WSGI_APP = "webhook_receiver.wsgi:app"


@click.group("webhooks")
def webhooks() -> None:
    """The webhook receiver: serve it, inspect and replay what it stored."""


webhooks.add_command(deadletters)


@webhooks.command("serve")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--bind", default=None, help="HOST:PORT to listen on [default: 127.0.0.1:$PORT]")
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Threads per worker [default: WEBHOOK_THREADS, 64].",
)
@click.option(
    "--worker-class",
    type=click.Choice(["gthread", "sync"]),
    default="gthread",
    show_default=True,
    help="gthread survives slow clients (one thread each, bounded read time); sync does not.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def serve(
    workers: int,
    bind: str | None,
    threads: int | None,
    worker_class: str,
    access_log: bool,
    log_level: str,
) -> None:
    """Serve the receiver with gunicorn (this process becomes the gunicorn master)."""
    from inbox import Inbox, InboxUnavailable

    settings = get_settings()
    bind = bind or f"127.0.0.1:{settings.PORT}"
    inbox = Inbox.from_settings(settings)
    try:
        inbox.create_schema()  # once here, so the workers do not race to create it
    except InboxUnavailable as exc:
        click.echo(f"warning: {exc}; deliveries get 503 until it is reachable", err=True)
    finally:
        inbox.close()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        GUNICORN_CONFIG,
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads or settings.WEBHOOK_THREADS),
        "--bind",
        bind,
        "--log-level",
        log_level,
    ]
    if access_log:
        argv += ["--access-logfile", "-"]
    argv.append(WSGI_APP)
    click.echo(
        f"webhook receiver on http://{bind} ({workers} {worker_class} workers, {inbox!r})", err=True
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)

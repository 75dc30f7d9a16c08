"""`platform sandbox`: serve a provider's sandbox (API, auth server and `/_sandbox/` admin on
one base URL) until interrupted. The one sandbox CLI: `python -m sandbox serve` calls it too.

The provider's sandbox is found through the provider registry
(`get_provider(name).load_sandbox()`); its own options (data size, limits, webhooks) come from
its kit, so this module names no provider and holds no sandbox logic.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from core.settings import get_settings

DEFAULT_PROVIDER = "hubspot"  # the provider the demo and `make dev` use unless told


def load_kit(provider: str) -> Any:
    """The provider's sandbox kit, or a clear error when it has none."""
    from sources.provider import get_provider

    kit = get_provider(provider).load_sandbox()
    if kit is None:
        raise click.ClickException(f"provider {provider!r} has no sandbox")
    return kit


def _provider_in(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--provider" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--provider="):
            return arg.split("=", 1)[1]
    return DEFAULT_PROVIDER


class ProviderSandboxCommand(click.Command):
    """Adds the chosen provider's own options (from its kit) before parsing and for --help."""

    def _with_kit_options(self, provider: str) -> None:
        if getattr(self, "_kit_provider", None) == provider:
            return
        generic = [p for p in self.params if not getattr(p, "from_kit", False)]
        try:
            extra = load_kit(provider).cli_options()
        except Exception:  # noqa: BLE001 - an unknown provider is reported by the --provider check
            extra = []
        for option in extra:
            option.from_kit = True  # type: ignore[attr-defined]
        self.params = generic + extra
        self._kit_provider = provider

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self._with_kit_options(_provider_in(args))
        return super().parse_args(ctx, args)

    def get_help(self, ctx: click.Context) -> str:
        self._with_kit_options(_provider_in(sys.argv[1:]))
        return super().get_help(ctx)


@click.command("sandbox", cls=ProviderSandboxCommand)
@click.option("--provider", default=DEFAULT_PROVIDER, show_default=True)
@click.option("--port", type=int, default=None, help="[default: the provider's fixed port]")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--server", type=click.Choice(["gunicorn", "builtin"]), default="gunicorn")
@click.option("--threads", type=int, default=8, show_default=True)
@click.option("--config-json", help="The provider sandbox's full config as JSON (options win).")
@click.option(
    "--state-dir",
    type=click.Path(),
    default=None,
    help="Where the sandbox keeps state across restarts (issued refresh tokens) "
    "[default: $DATA_DIR/sandbox]",
)
def sandbox(
    provider: str,
    port: int | None,
    host: str,
    server: str,
    threads: int,
    config_json: str | None,
    state_dir: str | None,
    **options: Any,
) -> None:
    """Serve PROVIDER's sandbox on HOST:PORT until interrupted."""
    from pathlib import Path

    from sandbox.common.server import serve_forever

    kit = load_kit(provider)
    where = Path(state_dir) if state_dir else get_settings().data_dir / "sandbox"
    try:
        config = kit.serve_config(options, config_json, where)
    except ValueError as exc:  # pydantic's ValidationError included
        raise click.ClickException(str(exc)) from exc
    port = port or kit.default_port
    click.echo(f"{provider} sandbox on http://{host}:{port}  (admin: /_sandbox/)")
    sys.stdout.flush()
    serve_forever(kit.build_app(config), host, port, server, threads)

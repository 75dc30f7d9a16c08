"""The `platform` command: integrations, secrets, audit, syncs, the warehouse shell, webhooks,
mappings, the sandbox and the demo, each a group or command of its own module in this room.

Each sub-command calls the same public Python APIs the Dagster assets use; nothing here holds
logic of its own beyond parsing options and printing. Secrets are never echoed. No other room
imports this module.
"""

from __future__ import annotations

import contextlib
import sys

import click
from pydantic import ValidationError

from cli.dedup import dedup
from cli.demo import demo
from cli.golden import golden
from cli.integrations import audit, integrations, secrets
from cli.mappings import mappings
from cli.privacy import privacy
from cli.sandbox import sandbox
from cli.sync import sync
from cli.warehouse import warehouse
from cli.webhooks import webhooks
from core.logging import configure_logging
from core.settings import get_settings


@click.group()
def main() -> None:
    """Integration platform: providers' records into your warehouse, webhooks and mappings."""
    # bad settings are reported by the command itself, with its own context
    with contextlib.suppress(ValidationError):
        configure_logging(get_settings())


for command in (integrations, secrets, audit, sync, warehouse, webhooks, mappings, sandbox, demo):
    main.add_command(command)
main.add_command(golden)
main.add_command(dedup)
main.add_command(privacy)


if __name__ == "__main__":
    sys.exit(main())

"""The `platform` command: integrations, secrets, audit, syncs, webhooks, mappings, the sandbox
and the demo, each a group or command of its own module in this room.

Each sub-command calls the same public Python APIs the Dagster assets use; nothing here holds
logic of its own beyond parsing options and printing. Secrets are never echoed. No other room
imports this module.
"""

from __future__ import annotations

import sys

import click

from cli.demo import demo
from cli.integrations import audit, integrations, secrets
from cli.mappings import mappings
from cli.sandbox import sandbox
from cli.sync import sync
from cli.webhooks import webhooks


@click.group()
def main() -> None:
    """Integration platform: providers' records into your warehouse, webhooks and mappings."""


for command in (integrations, secrets, audit, sync, webhooks, mappings, sandbox, demo):
    main.add_command(command)


if __name__ == "__main__":
    sys.exit(main())

"""Dagster resources: the platform's runner, configured from the environment.

Assets get a `SyncRunner` from here and nothing else; they never build clients or read secrets.
"""

from __future__ import annotations

import dagster as dg

from core.settings import get_settings
from destinations.warehouse import Warehouse
from pipelines.runner import SyncRunner


class PlatformResource(dg.ConfigurableResource):
    """Entry point to the platform for assets; `data_dir` overrides DATA_DIR (tests use it)."""

    data_dir: str | None = None

    def settings(self):
        overrides = {"DATA_DIR": self.data_dir} if self.data_dir else {}
        return get_settings(**overrides)

    def runner(self) -> SyncRunner:
        return SyncRunner(self.settings())

    def warehouse(self) -> Warehouse:
        return Warehouse.from_settings(self.settings())

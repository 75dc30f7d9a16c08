"""The one way a sync runs, whoever asks (CLI, Dagster asset, demo, benchmark).

It wires an integration's credentials to its provider source and the configured warehouse, runs
dlt, records the run in the sync-run log (control database and warehouse), and turns failures
into our error taxonomy. It never reads tokens itself: it asks the registry for a token provider.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from core.errors import IntegrationError, ValidationError
from core.settings import Settings, get_settings
from destinations.ops_log import record_sync_run
from destinations.warehouse import Warehouse, dataset_name
from sources.common.http import RetryPolicy
from sources.hubspot.client import HubSpotClient
from sources.hubspot.entities import resolve_entities
from sources.hubspot.source import DEFAULT_LOOKBACK_MS, EntityReport, hubspot_source

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int], None]


@dataclass
class SyncRequest:
    """What to sync: which integration, which entities, full or incremental, which filters."""

    integration_id: str
    entities: list[str] | None = None
    full_refresh: bool = False
    filters: dict[str, list[dict[str, Any]]] | None = None
    actor: str = "system"


@dataclass
class SyncResult:
    run_id: str
    integration_id: str
    status: str
    mode: str
    entities: list[str]
    rows_loaded: dict[str, int] = field(default_factory=dict)
    reports: dict[str, EntityReport] = field(default_factory=dict)
    requests: int = 0
    requests_by_kind: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    duration_s: float = 0.0
    load_ids: list[str] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    dataset: str = ""
    error: str | None = None


def root_integration_error(exc: BaseException) -> IntegrationError | None:
    """dlt wraps what our code raised; find our own error in the cause chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, IntegrationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class SyncRunner:
    """Runs sync jobs for registered integrations into the configured warehouse."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: Any = None,
        run_log: Any = None,
        warehouse: Warehouse | None = None,
        retry: RetryPolicy | None = None,
        client_factory: Callable[..., HubSpotClient] | None = None,
    ) -> None:
        from pipelines.registry import IntegrationRegistry
        from pipelines.run_log import SyncRunLog

        self.settings = settings or get_settings()
        self.registry = registry or IntegrationRegistry.from_settings(self.settings)
        self.run_log = run_log or SyncRunLog(self.registry.db)
        self.warehouse = warehouse or Warehouse.from_settings(self.settings)
        self.retry = retry
        self.client_factory = client_factory or HubSpotClient

    def pipeline(self, integration_id: str, provider: str = "hubspot") -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=f"{provider}__{integration_id}".replace("-", "_"),
            destination=self.warehouse.destination(),
            dataset_name=dataset_name(provider, integration_id),
            pipelines_dir=str(self.settings.dlt_pipelines_dir),
        )

    def run(self, request: SyncRequest, progress: ProgressCallback | None = None) -> SyncResult:
        integration = self.registry.get(request.integration_id)
        if integration.type != "hubspot":
            raise ValidationError(
                f"sync for {integration.type} integrations is not available yet",
                provider=integration.type,
                integration_id=integration.id,
            )
        entities = [e.name for e in resolve_entities(request.entities)]
        mode = "full" if request.full_refresh else "incremental"
        run_id = self.run_log.start(integration.id, mode, entities)
        started = time.monotonic()
        result = SyncResult(
            run_id=run_id,
            integration_id=integration.id,
            status="failed",
            mode=mode,
            entities=entities,
            dataset=dataset_name("hubspot", integration.id),
        )
        api_base = integration.config.get("api_base") or self.settings.HUBSPOT_API_BASE
        client = self.client_factory(
            api_base,
            self.registry.token_provider(integration.id),
            integration_id=integration.id,
            retry=self.retry,
        )
        pipeline = self.pipeline(integration.id)
        try:
            with self.warehouse.writer_lock():
                source = hubspot_source(
                    client,
                    entities,
                    lookback_ms=int(
                        integration.config.get("search_lookback_ms", DEFAULT_LOOKBACK_MS)
                    ),
                    full_refresh=request.full_refresh,
                    filters=request.filters,
                    reports=result.reports,
                    progress=progress,
                )
                info = pipeline.run(source, loader_file_format=self.warehouse.loader_file_format)
            result.load_ids = list(info.loads_ids)
            result.step_seconds = {
                step.step: round((step.finished_at - step.started_at).total_seconds(), 3)
                for step in pipeline.last_trace.steps
                if step.finished_at and step.started_at
            }
            normalize = pipeline.last_trace.last_normalize_info
            counts = dict(normalize.row_counts) if normalize else {}
            result.rows_loaded = {k: v for k, v in counts.items() if not k.startswith("_dlt")}
            modes = {r.mode for r in result.reports.values()}
            result.mode = modes.pop() if len(modes) == 1 else "mixed"
            result.status = "success"
        except Exception as exc:
            ours = root_integration_error(exc)
            if isinstance(exc, PipelineStepFailed) and exc.step == "extract":
                # Nothing half-extracted may linger and be loaded by a later run.
                pipeline.drop_pending_packages()
            result.error = str(ours or exc)
            if ours is not None:
                raise ours from exc
            raise
        finally:
            client.close()
            result.duration_s = round(time.monotonic() - started, 3)
            stats = client.stats
            result.requests = stats.requests
            result.requests_by_kind = dict(stats.by_kind)
            result.retries = stats.retries
            result.rate_limit_waits = stats.rate_limit_waits
            result.rate_limit_wait_s = round(stats.rate_limit_wait_s, 3)
            self._record(result)
        return result

    def _record(self, result: SyncResult) -> None:
        """Sync-run log in the control DB, mirrored to the warehouse for analysts."""
        self.run_log.finish(
            result.run_id,
            status=result.status,
            rows_loaded=result.rows_loaded,
            requests=result.requests,
            rate_limit_waits=result.rate_limit_waits,
            rate_limit_wait_s=result.rate_limit_wait_s,
            error=result.error,
            load_ids=result.load_ids,
        )
        try:
            self._mirror_run(result)
        except Exception:  # noqa: BLE001 - the run itself is recorded; the mirror is best effort
            log.exception("could not mirror sync run %s to the warehouse", result.run_id)

    def _mirror_run(self, result: SyncResult) -> None:
        row = {
            "run_id": result.run_id,
            "integration_id": result.integration_id,
            "provider": "hubspot",
            "status": result.status,
            "mode": result.mode,
            "entities": ",".join(result.entities),
            "rows_loaded": sum(result.rows_loaded.values()),
            "rows_by_table": dict(result.rows_loaded),
            "requests": result.requests,
            "retries": result.retries,
            "rate_limit_waits": result.rate_limit_waits,
            "rate_limit_wait_s": result.rate_limit_wait_s,
            "duration_s": result.duration_s,
            "error": result.error,
            "finished_at": datetime.now(UTC),
        }
        record_sync_run(self.warehouse, row)

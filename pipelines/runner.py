"""The one way a sync runs, whoever asks (CLI, Dagster asset, webhook handler, demo, benchmark).

It looks the integration's provider up in the provider registry, builds the provider's client
(`provider.client(ClientContext)`) and dlt source (`provider.source(client, SourceRequest)`),
runs dlt into the configured warehouse, records the run in the sync-run log (control database
and warehouse) and turns failures into our error taxonomy. A run that fails at any point after
it was recorded as started (credentials included) ends `failed` with its error. It never reads
tokens itself (it asks the registry for a token provider) and never names a provider.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from core.errors import IntegrationError, ValidationError
from core.settings import Settings, get_settings
from destinations.ops_log import record_sync_run
from destinations.warehouse import Warehouse, dataset_name
from pipelines.models import Integration
from privacy.tombstones import purge_erased_records
from sources.common.hosts import request_guard
from sources.common.http import RetryPolicy
from sources.provider import (
    ClientContext,
    EntityReport,
    ProgressCallback,
    Provider,
    ProviderClient,
    ProviderRegistry,
    SourceRequest,
    providers,
)

log = logging.getLogger(__name__)

BY_ID = "by_id"
ClientFactory = Callable[[ClientContext], ProviderClient]


@dataclass
class SyncRequest:
    """What to sync: which integration, which entities, full or incremental, which filters.

    `ids` (with exactly one entity whose provider reads by id) reads exactly those records and
    moves no bookmark; the run is logged with mode `by_id`.
    """

    integration_id: str
    entities: list[str] | None = None
    full_refresh: bool = False
    filters: dict[str, Any] | None = None
    actor: str = "system"
    ids: list[str] | None = None


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
    provider: str = ""
    # Packages a crashed run left behind, finished by this run before its own extraction.
    resumed_load_ids: list[str] = field(default_factory=list)
    resumed_rows: dict[str, int] = field(default_factory=dict)


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
    """Runs sync jobs for registered integrations of any provider into the warehouse.

    `client_factory` (tests, benchmarks) replaces the provider's client factory; it receives
    the same `ClientContext`. On start, runs left `running` by a process that is gone are
    marked `abandoned` (once per process and control database).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: Any = None,
        run_log: Any = None,
        warehouse: Warehouse | None = None,
        retry: RetryPolicy | None = None,
        client_factory: ClientFactory | None = None,
        provider_registry: ProviderRegistry | None = None,
    ) -> None:
        from pipelines.registry import IntegrationRegistry
        from pipelines.run_log import SyncRunLog

        self.settings = settings or get_settings()
        self.registry = registry or IntegrationRegistry.from_settings(self.settings)
        self.run_log = run_log or SyncRunLog(self.registry.db)
        self.warehouse = warehouse or Warehouse.from_settings(self.settings)
        self.retry = retry
        self.client_factory = client_factory
        self.providers = provider_registry or getattr(self.registry, "providers", providers)
        try:
            self.run_log.mark_abandoned_once()
        except Exception:  # noqa: BLE001 - bookkeeping must not stop a sync from starting
            log.exception("could not mark abandoned sync runs")

    def pipeline(self, integration_id: str, provider: str) -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=f"{provider}__{integration_id}".replace("-", "_"),
            destination=self.warehouse.destination(),
            dataset_name=dataset_name(provider, integration_id),
            pipelines_dir=str(self.settings.dlt_pipelines_dir),
        )

    def provider_for(self, integration: Integration) -> Provider:
        """The integration's provider, refused with a clear error if it cannot extract."""
        provider = (
            self.providers.get(integration.type) if integration.type in self.providers else None
        )
        if provider is None or not provider.extracts:
            raise ValidationError(
                f"sync for {integration.type} integrations is not available yet",
                provider=integration.type,
                integration_id=integration.id,
            )
        return provider

    def run(self, request: SyncRequest, progress: ProgressCallback | None = None) -> SyncResult:
        integration = self.registry.get(request.integration_id)
        provider = self.provider_for(integration)
        try:
            entities = provider.resolve_entities(request.entities)
        except ValidationError as exc:
            exc.integration_id = integration.id
            raise
        ids = _checked_ids(provider, integration, entities, request.ids)
        mode = BY_ID if ids is not None else ("full" if request.full_refresh else "incremental")
        run_id = self.run_log.start(integration.id, mode, entities, provider=provider.name)
        started = time.monotonic()
        result = SyncResult(
            run_id=run_id,
            integration_id=integration.id,
            status="failed",
            mode=mode,
            entities=entities,
            dataset=dataset_name(provider.name, integration.id),
            provider=provider.name,
        )
        # From here on every failure, whatever its step, ends the run `failed` with its error.
        client: ProviderClient | None = None
        pipeline: dlt.Pipeline | None = None
        try:
            config = provider.parse_config(integration.config)
            self.registry.check_hosts(provider, integration.config)
            context = ClientContext(
                integration_id=integration.id,
                config=config,
                tokens=self.registry.token_provider(integration.id),
                settings=self.settings,
                retry=self.retry,
                request_guard=request_guard(
                    provider.hosts,
                    allow_local=self.settings.ALLOW_LOCAL_PROVIDER_HOSTS,
                    provider=provider.name,
                ),
            )
            client = (self.client_factory or provider.client)(context)
            pipeline = self.pipeline(integration.id, provider.name)
            source_request = SourceRequest(
                entities=entities,
                full_refresh=request.full_refresh,
                filters=request.filters,
                ids=ids,
                reports=result.reports,
                progress=progress,
                config=config,
            )
            with self.warehouse.writer_lock(), _older_objects_frozen():
                self._finish_pending(pipeline, result)
                source = provider.source(client, source_request)
                info = pipeline.run(source, loader_file_format=self.warehouse.loader_file_format)
                purge_erased_records(self.warehouse, provider, integration.id, pipeline)
            result.load_ids = [*result.resumed_load_ids, *info.loads_ids]
            result.step_seconds = {
                step.step: round((step.finished_at - step.started_at).total_seconds(), 3)
                for step in pipeline.last_trace.steps
                if step.finished_at and step.started_at
            }
            normalize = pipeline.last_trace.last_normalize_info
            counts = dict(normalize.row_counts) if normalize else {}
            result.rows_loaded = {k: v for k, v in counts.items() if not k.startswith("_dlt")}
            for table, rows in result.resumed_rows.items():
                result.rows_loaded[table] = result.rows_loaded.get(table, 0) + rows
            modes = {r.mode for r in result.reports.values()}
            result.mode = modes.pop() if len(modes) == 1 else ("mixed" if modes else mode)
            result.status = "success"
        except BaseException as exc:
            ours = root_integration_error(exc)
            if (
                pipeline is not None
                and isinstance(exc, PipelineStepFailed)
                and exc.step == "extract"
            ):
                # Nothing half-extracted may linger and be loaded by a later run.
                try:
                    pipeline.drop_pending_packages()
                except Exception:  # noqa: BLE001 - the run's own error matters more
                    log.exception("could not drop pending packages of run %s", run_id)
            if ours is not None:
                ours.integration_id = ours.integration_id or integration.id
                ours.provider = ours.provider or provider.name
            result.error = str(ours or exc) or type(exc).__name__
            if ours is not None and ours is not exc:
                raise ours from exc
            raise
        finally:
            if client is not None:
                self._collect_client(result, client)
            result.duration_s = round(time.monotonic() - started, 3)
            self._record(result)
        return result

    def _finish_pending(self, pipeline: dlt.Pipeline, result: SyncResult) -> None:
        """Load what a crashed run left extracted or normalized, and count what it loaded.

        dlt's `run` would load such packages and return without extracting, so the rerun
        would be recorded as a success of 0 requests and 0 rows (and a full rerun as an empty
        full sync) while the requested sync never ran. Finishing them first, on their own,
        keeps their bookmarks (they are the state the next extraction starts from) and lets
        the requested sync run as asked; the run records both.
        """
        # Nothing pending locally (the usual case): `run` syncs with the destination itself, so
        # a second sync here would only open the warehouse once more (~0.1-0.2 s a run).
        if not pipeline.has_pending_data:
            return
        # As `run` does first: a local state the destination never saw (a crashed first sync)
        # is reset with its packages, and nothing pending remains.
        pipeline.sync_destination()
        if not pipeline.has_pending_data:
            return
        if pipeline.list_extracted_load_packages():
            pipeline.normalize()
        pending = list(pipeline.list_normalized_load_packages())
        if not pending:
            return
        counts: dict[str, int] = {}
        for load_id in pending:
            for table, rows in package_row_counts(pipeline, load_id).items():
                counts[table] = counts.get(table, 0) + rows
        log.warning("run %s finishes pending load packages %s first", result.run_id, pending)
        info = pipeline.load()
        result.resumed_load_ids = list(info.loads_ids)
        result.resumed_rows = counts

    def _collect_client(self, result: SyncResult, client: ProviderClient) -> None:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
            log.exception("could not close the client of run %s", result.run_id)
        stats = client.stats
        result.requests = stats.requests
        result.requests_by_kind = dict(stats.by_kind)
        result.retries = stats.retries
        result.rate_limit_waits = stats.rate_limit_waits
        result.rate_limit_wait_s = round(stats.rate_limit_wait_s, 3)

    def _record(self, result: SyncResult) -> None:
        """Sync-run log in the control DB, mirrored to the warehouse for analysts."""
        try:
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
        except Exception:
            if result.status == "success":
                raise
            # A failed run's own error is what the caller must see; the row will be abandoned.
            log.exception("could not record the end of failed sync run %s", result.run_id)
        try:
            self._mirror_run(result)
        except Exception:  # noqa: BLE001 - the run itself is recorded; the mirror is best effort
            log.exception("could not mirror sync run %s to the warehouse", result.run_id)

    def _mirror_run(self, result: SyncResult) -> None:
        row = {
            "run_id": result.run_id,
            "integration_id": result.integration_id,
            "provider": result.provider,
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


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Objects that exist before the run sit out the cyclic garbage collector's passes during
    it, and rejoin them after. A run allocates steadily; each full pass used to walk every
    object of the process (dlt, Dagster, pyarrow: ~190k), several times a run."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def package_row_counts(pipeline: dlt.Pipeline, load_id: str) -> dict[str, int]:
    """Rows per data table in a normalized package, from its job files (parquet metadata, or
    CSV lines): what loading it will write. `_dlt` tables are left out."""
    info = pipeline.get_load_package_info(load_id)
    counts: dict[str, int] = {}
    for state in ("new_jobs", "started_jobs", "completed_jobs"):
        for job in info.jobs.get(state, []):  # type: ignore[call-overload]
            table = job.job_file_info.table_name
            if table.startswith("_dlt"):
                continue
            rows = _file_rows(job.file_path, job.job_file_info.file_format)
            if rows is not None:
                counts[table] = counts.get(table, 0) + rows
    return counts


def _file_rows(path: str, file_format: str) -> int | None:
    if file_format == "parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    if file_format in ("csv", "jsonl"):
        import gzip

        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            lines = sum(1 for line in f if line.strip())
        return lines - 1 if file_format == "csv" and lines else lines
    return None


def _checked_ids(
    provider: Provider,
    integration: Integration,
    entities: list[str],
    ids: Sequence[Any] | None,
) -> list[str] | None:
    """A by-id request names exactly one entity that reads by id, and at least one id."""
    if ids is None:
        return None
    unique = sorted(
        {str(i) for i in ids if i is not None and str(i) != ""}, key=lambda v: (len(v), v)
    )
    where = {"provider": integration.type, "integration_id": integration.id}
    if not unique:
        raise ValidationError("no object ids to fetch", **where)
    if len(entities) != 1:
        raise ValidationError(
            "a by-id sync names exactly one entity",
            hint="SyncRequest(integration_id, entities=[entity], ids=[...])",
            **where,
        )
    if not provider.entity(entities[0]).by_ids:
        raise ValidationError(
            f"{provider.title} {entities[0]} cannot be read by id",
            hint="run an incremental sync of the entity instead",
            **where,
        )
    return unique

"""Fetch named HubSpot records by id (batch read) and load them like a sync would.

A webhook names the objects that changed, so re-reading exactly those is cheaper and fresher
than an incremental search (one `batch/read` per 100 ids, no search-index lag). Records are read
live first, then the ids not found are read with `archived=true`; associations of the live ones
come from the v4 batch read. The load goes through the integration's own dlt pipeline and
schema, with the same table hints as the sync, and it never touches the sync's bookmarks (dlt
resource state), so the next incremental sync is unaffected. Runs are recorded in the sync-run
log with mode `by_id`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from core.clock import clock
from core.errors import ValidationError
from destinations.ops_log import record_sync_run
from pipelines.runner import SyncRunner, root_integration_error
from sources.hubspot.arrow import association_table, records_to_table, v4_association_rows
from sources.hubspot.client import HubSpotClient
from sources.hubspot.entities import HubSpotEntity, resolve_entities

MODE = "by_id"

log = logging.getLogger(__name__)


@dataclass
class RecordFetchReport:
    """What one by-id fetch read and loaded."""

    run_id: str = ""
    entity: str = ""
    requested: int = 0
    live: int = 0
    archived: int = 0
    missing: list[str] = field(default_factory=list)
    association_rows: dict[str, int] = field(default_factory=dict)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    duration_s: float = 0.0

    def metadata(self) -> dict[str, Any]:
        return {
            "mode": MODE,
            "sync_run_id": self.run_id,
            "entity": self.entity,
            "ids_requested": self.requested,
            "live_records": self.live,
            "archived_records": self.archived,
            "missing_ids": len(self.missing),
            "rows_loaded": sum(self.rows_loaded.values()),
            "requests": self.requests,
        }


def _entity_hints(entity: HubSpotEntity) -> Any:
    # Same hints as the sync's resource: newest `updated_at` wins inside one load.
    return dlt.mark.make_hints(
        table_name=entity.name,
        columns=[{"name": "updated_at", "dedup_sort": "desc"}],
    )


def _association_hints(spec) -> Any:
    return dlt.mark.make_hints(
        table_name=spec.table,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=[spec.from_column, spec.to_column],
        merge_key=spec.from_column,
        columns=[
            {"name": spec.from_column, "data_type": "text", "nullable": False},
            {"name": spec.to_column, "data_type": "text", "nullable": False},
            {"name": "association_type", "data_type": "text"},
        ],
    )


def _records_by_id(
    client: HubSpotClient,
    entity: HubSpotEntity,
    ids: list[str],
    started_ms: int,
    report: RecordFetchReport,
) -> Iterator[Any]:
    names = client.property_names(entity.object_type)
    live = client.batch_read(entity, ids, names)
    found = {r["id"] for r in live}
    rest = [i for i in ids if i not in found]
    archived = client.batch_read(entity, rest, names, archived=True) if rest else []
    found |= {r["id"] for r in archived}
    report.live, report.archived = len(live), len(archived)
    report.missing = [i for i in ids if i not in found]
    records = live + archived
    if records:
        table = records_to_table(records, names, extracted_at_ms=started_ms)
        yield dlt.mark.with_hints(table, _entity_hints(entity), create_table_variant=True)
    live_ids = [r["id"] for r in live]
    for spec in entity.associations:
        if not live_ids:
            break
        by_id = client.read_associations(entity.object_type, spec.to_object_type, live_ids)
        rows = v4_association_rows(by_id, spec)
        report.association_rows[spec.table] = len(rows)
        if rows:
            yield dlt.mark.with_hints(
                association_table(rows, spec),
                _association_hints(spec),
                create_table_variant=True,
            )


@dlt.source(name="hubspot", max_table_nesting=0)
def hubspot_records_source(
    client: HubSpotClient,
    entity: HubSpotEntity,
    ids: list[str],
    started_ms: int,
    report: RecordFetchReport,
):
    """The integration's `hubspot` source schema, with one resource reading `ids` by id."""
    yield dlt.resource(
        _records_by_id,
        name=entity.name,
        primary_key="id",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
    )(client, entity, ids, started_ms, report)


def fetch_records(
    runner: SyncRunner, integration_id: str, entity_name: str, ids: Sequence[str]
) -> RecordFetchReport:
    """Read `ids` of `entity_name` from the integration's portal and merge them into its raw
    tables, under the warehouse writer lock; raise our error taxonomy on failure."""
    unique = sorted({str(i) for i in ids}, key=lambda v: (len(v), v))
    if not unique:
        raise ValidationError("no object ids to fetch", integration_id=integration_id)
    integration = runner.registry.get(integration_id)
    if integration.type != "hubspot":
        raise ValidationError(
            f"a by-id fetch needs a hubspot integration, {integration_id} is {integration.type}",
            provider=integration.type,
            integration_id=integration_id,
        )
    entity = resolve_entities([entity_name])[0]
    report = RecordFetchReport(entity=entity.name, requested=len(unique))
    report.run_id = runner.run_log.start(integration.id, MODE, [entity.name])
    started = time.monotonic()
    api_base = integration.config.get("api_base") or runner.settings.HUBSPOT_API_BASE
    client = runner.client_factory(
        api_base,
        runner.registry.token_provider(integration.id),
        integration_id=integration.id,
        retry=runner.retry,
    )
    pipeline = runner.pipeline(integration.id)
    status, error, load_ids = "failed", None, []
    try:
        with runner.warehouse.writer_lock():
            source = hubspot_records_source(client, entity, unique, clock.now_ms(), report)
            info = pipeline.run(source, loader_file_format=runner.warehouse.loader_file_format)
        load_ids = list(info.loads_ids)
        normalize = pipeline.last_trace.last_normalize_info
        counts = dict(normalize.row_counts) if normalize else {}
        report.rows_loaded = {k: v for k, v in counts.items() if not k.startswith("_dlt")}
        status = "success"
    except Exception as exc:
        ours = root_integration_error(exc)
        if isinstance(exc, PipelineStepFailed) and exc.step == "extract":
            pipeline.drop_pending_packages()
        error = str(ours or exc)
        if ours is not None:
            raise ours from exc
        raise
    finally:
        client.close()
        report.duration_s = round(time.monotonic() - started, 3)
        stats = client.stats
        report.requests, report.retries = stats.requests, stats.retries
        report.rate_limit_waits = stats.rate_limit_waits
        report.rate_limit_wait_s = round(stats.rate_limit_wait_s, 3)
        _record(runner, integration.id, report, status, error, load_ids)
    return report


def _record(
    runner: SyncRunner,
    integration_id: str,
    report: RecordFetchReport,
    status: str,
    error: str | None,
    load_ids: list[str],
) -> None:
    """Sync-run log row in the control database and its mirror in the warehouse (best effort:
    a bookkeeping failure must not hide the fetch's own outcome)."""
    try:
        runner.run_log.finish(
            report.run_id,
            status="success" if status == "success" else "failed",
            rows_loaded=report.rows_loaded,
            requests=report.requests,
            rate_limit_waits=report.rate_limit_waits,
            rate_limit_wait_s=report.rate_limit_wait_s,
            error=error,
            load_ids=load_ids,
        )
        record_sync_run(
            runner.warehouse,
            {
                "run_id": report.run_id,
                "integration_id": integration_id,
                "provider": "hubspot",
                "status": status,
                "mode": MODE,
                "entities": report.entity,
                "rows_loaded": sum(report.rows_loaded.values()),
                "rows_by_table": dict(report.rows_loaded),
                "requests": report.requests,
                "retries": report.retries,
                "rate_limit_waits": report.rate_limit_waits,
                "rate_limit_wait_s": report.rate_limit_wait_s,
                "duration_s": report.duration_s,
                "error": error,
                "finished_at": clock.now(),
            },
        )
    except Exception:  # noqa: BLE001
        log.exception("could not record by-id fetch %s in the sync-run log", report.run_id)

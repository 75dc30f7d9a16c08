"""Prometheus metrics of the receiver, correct under gunicorn's several worker processes.

With PROMETHEUS_MULTIPROC_DIR set (the gunicorn config sets it under DATA_DIR before any worker
starts), every worker writes its counters to files there and `/metrics` merges them, whichever
worker answers. Without it (tests, a single process) the app's own registry is served. Inbox
sizes are read from the inbox at scrape time, not counted, so every worker reports the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from inbox import Inbox, InboxUnavailable
from sources.provider import ProviderRegistry, providers

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
UNKNOWN = "unknown"


class InboxCollector(Collector):
    """Inbox events by status and the dead-letter count, read at scrape time."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("webhook_inbox_up", "1 when the inbox answered this scrape")
        try:
            counts = self._inbox.counts()
        except InboxUnavailable:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        events = GaugeMetricFamily(
            "webhook_inbox_events", "Inbox events by processing status", labels=["status"]
        )
        for status, n in sorted(counts.items()):
            events.add_metric([status], n)
        yield events
        dead = GaugeMetricFamily(
            "webhook_dead_letters", "Events that failed after their last retry"
        )
        dead.add_metric([], counts.get("dead", 0))
        yield dead


class ServiceInfoCollector(Collector):
    """`platform_service_info{service, environment} 1`: which deployment these series come
    from (SERVICE_NAME, ENVIRONMENT), the Prometheus info-metric pattern."""

    def __init__(self, labels: dict[str, str]) -> None:
        self._labels = labels

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "platform_service_info", "Service identity of this process", labels=list(self._labels)
        )
        info.add_metric(list(self._labels.values()), 1)
        yield info


@dataclass(frozen=True, slots=True)
class ProviderMetrics:
    label: str
    received: Counter
    accepted: Counter
    duplicates: Counter
    accepted_latency: Histogram
    rejected_latency: Histogram


class ReceiverMetrics:
    """The receiver's counters and latency histogram, registered on a per-app registry."""

    def __init__(
        self,
        inbox: Inbox,
        provider_registry: ProviderRegistry = providers,
        service_labels: dict[str, str] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._service = ServiceInfoCollector(service_labels or {})
        self._providers = provider_registry
        self._inbox = inbox
        self.received = Counter(
            "webhook_deliveries_received",
            "Deliveries received (every POST to a webhook endpoint)",
            ["provider"],
            registry=self.registry,
        )
        self.accepted = Counter(
            "webhook_events_accepted",
            "Events newly committed to the inbox",
            ["provider"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "webhook_events_duplicate",
            "Events answered 2xx without a new row (already in the inbox)",
            ["provider"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "webhook_deliveries_rejected",
            "Deliveries refused, by reason (the error code of the answer)",
            ["provider", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "webhook_processing_seconds",
            "Time from request to answer in the receiver, by outcome",
            ["provider", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(InboxCollector(inbox))
        self.registry.register(self._service)
        self._bound: dict[str, ProviderMetrics] = {}

    def bound(self, provider: str) -> ProviderMetrics:
        """The hot path's metrics for one provider, label lookups done once per process
        (cached under the label, so unknown names cannot grow the cache)."""
        bound = self._bound.get(provider)
        if bound is not None:
            return bound
        label = self.provider_label(provider)
        bound = self._bound.get(label)
        if bound is None:
            bound = self._bound[label] = ProviderMetrics(
                label=label,
                received=self.received.labels(label),
                accepted=self.accepted.labels(label),
                duplicates=self.duplicates.labels(label),
                accepted_latency=self.latency.labels(label, "accepted"),
                rejected_latency=self.latency.labels(label, "rejected"),
            )
        return bound

    def provider_label(self, provider: str) -> str:
        """Bounded label values: only providers with a webhook endpoint get their own series,
        so an arbitrary path segment cannot create a new time series."""
        if provider in self._providers and self._providers.get(provider).webhooks is not None:
            return provider
        return UNKNOWN

    def render(self) -> bytes:
        """The exposition text: merged across workers in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            registry.register(InboxCollector(self._inbox))
            registry.register(self._service)
            return generate_latest(registry)
        return generate_latest(self.registry)

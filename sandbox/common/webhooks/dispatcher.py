"""The sender: queue events, cut them into batches, deliver on background threads, retry.
The provider's `EventShape` renders a batch and its `Signer` signs it; everything else here is
the same for every provider (and names none).

Events wait in `pending` until a batch is full (`max_batch_size`), the oldest has waited
`flush_interval_ms`, or someone flushes. Batches become deliveries in a due-time heap; up to
`max_concurrent_requests` worker threads take due deliveries, sign and send them outside the
lock, and settle the outcome: delivered on 2xx, otherwise retried after the policy's backoff
until `max_retries` is spent. Threads start lazily in the process that serves requests, so a
gunicorn master that forks its worker leaves no dead sender behind.
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import threading
import time
from collections import Counter, deque
from typing import Any

from core.clock import Clock
from sandbox.common.webhooks.deliveries import Delivery, DeliveryLog
from sandbox.common.webhooks.faults import WebhookFaultInjector
from sandbox.common.webhooks.settings import SenderSettings
from sandbox.common.webhooks.transport import AttemptResult, WebhookTransport
from sandbox.common.webhooks.wire import Event, EventShape, Signer

log = logging.getLogger(__name__)
_IDLE_RECHECK_S = 1.0
_IDLE_EXIT_S = 30.0  # idle workers end; the next event starts them again


class _Unsigned:
    """The signer before `configure`: nothing is sent then (no target), so it is never used."""

    signature_headers: tuple[str, ...] = ()

    def sign(self, body: bytes, url: str, secret: str, timestamp_ms: int) -> dict[str, str]:
        return {}


class WebhookDispatcher:
    """Queue, batching, worker threads, retries and the delivery log of one sandbox app.

    `shape` renders batches; `name` labels the worker threads (`<name>-webhooks-<n>`).
    """

    def __init__(
        self,
        clock: Clock,
        faults: WebhookFaultInjector,
        shape: EventShape,
        *,
        name: str = "sandbox",
        max_log: int = 10_000,
    ) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # workers wait here
        self._drained = threading.Condition(self._lock)  # flushers wait here
        self._clock = clock
        self._faults = faults
        self._shape = shape
        self._name = name
        self._settings = SenderSettings()
        self._signer: Signer = _Unsigned()
        self._secret = ""
        self._pending: deque[Event] = deque()
        self._pending_since: float | None = None
        self._heap: list[tuple[float, int]] = []  # (monotonic due time, delivery id)
        self.log = DeliveryLog(max_log)
        self._in_flight = 0
        self._workers: dict[int, threading.Thread] = {}
        self._pid: int | None = None
        self._transport: WebhookTransport | None = None
        self._flushers = 0
        self._expedite = 0
        self._generation = 0
        self._closed = False
        self._rng = random.Random()
        self.counters: Counter[str] = Counter()

    # --- configuration -----------------------------------------------------------------
    def configure(self, settings: SenderSettings, signer: Signer, secret: str) -> None:
        """Apply new settings, signer and secret; queued work is discarded when sending is
        switched off."""
        with self._lock:
            self._settings = settings
            self._signer = signer
            self._secret = secret
            if not settings.active:
                self._discard_queue()
            elif self._pid == os.getpid():  # grow or shrink running workers; never start any
                self._ensure_workers()  # here: a gunicorn master would fork them away
            self._wake.notify_all()
            self._drained.notify_all()

    def reset(self) -> None:
        """Forget queued events, deliveries and counters (in-flight results are ignored)."""
        with self._lock:
            self._generation += 1
            self._pending.clear()
            self._pending_since = None
            self._heap.clear()
            self.log.clear()
            self.counters.clear()
            self._wake.notify_all()
            self._drained.notify_all()

    def close(self) -> None:
        """Stop the worker threads (queued work stays queued)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            workers = list(self._workers.values())
        for thread in workers:
            thread.join(timeout=self._settings.timeout_ms / 1000 + 1)
        if self._transport is not None:
            self._transport.close()

    def _discard_queue(self) -> None:
        if self._pending:
            self.counters["events_discarded"] += len(self._pending)
        self._pending.clear()
        self._pending_since = None
        for _, delivery_id in self._heap:
            delivery = self.log.get(delivery_id)
            if delivery is not None:
                delivery.status = "discarded"
                delivery.next_attempt_ms = None
                self.counters["events_discarded"] += len(delivery.events)
        self._heap.clear()

    # --- producing ---------------------------------------------------------------------
    def enqueue(self, events: list[Event]) -> None:
        """Queue events for delivery (cheap; called while the portal's state lock is held)."""
        if not events:
            return
        with self._lock:
            settings = self._settings
            if not settings.active:
                return
            was_empty = not self._pending
            room = settings.max_queued_events - len(self._pending)
            if room < len(events):
                self.counters["events_dropped_queue_full"] += len(events) - max(room, 0)
                events = events[: max(room, 0)]
            self._pending.extend(events)
            self.counters["events_emitted"] += len(events)
            if self._pending_since is None:
                self._pending_since = time.monotonic()
            self._ensure_workers()
            if was_empty or len(self._pending) >= settings.max_batch_size or self._flushers:
                self._wake.notify()  # one worker cuts the batch or times its deadline

    # --- flushing ----------------------------------------------------------------------
    def flush(self, timeout_s: float, expedite_retries: bool = True) -> dict[str, Any]:
        """Send everything now and wait until nothing is queued, scheduled or in flight.

        With `expedite_retries`, deliveries waiting for a retry (and retries scheduled while
        flushing) are due at once instead of after their backoff.
        """
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._flushers += 1
            self._expedite += 1 if expedite_retries else 0
            try:
                if self._settings.active:
                    self._ensure_workers()
                self._wake.notify_all()
                while not self._idle():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._drained.wait(remaining)
                return {"drained": self._idle(), **self._status()}
            finally:
                self._flushers -= 1
                self._expedite -= 1 if expedite_retries else 0

    def deliveries(
        self,
        status: str | None = None,
        since_id: int = 0,
        limit: int = 1000,
        include_events: bool = False,
        include_body: bool = False,
    ) -> list[dict[str, Any]]:
        """Delivery records (oldest first) rendered as JSON-ready dicts."""
        with self._lock:
            return [
                d.to_json(self._shape, include_events, include_body)
                for d in self.log.select(status, since_id, limit)
            ]

    def clear_finished(self) -> int:
        """Drop delivered, failed and discarded records; queued work stays."""
        with self._lock:
            return self.log.clear_finished()

    def _idle(self) -> bool:
        return not self._pending and not self._heap and self._in_flight == 0

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._status()

    def _status(self) -> dict[str, Any]:
        return {
            "active": self._settings.active,
            "pending_events": len(self._pending),
            "scheduled_deliveries": len(self._heap),
            "in_flight": self._in_flight,
            "deliveries": self.log.counts(),
            "counters": dict(self.counters),
        }

    # --- workers -----------------------------------------------------------------------
    def _ensure_workers(self) -> None:
        """Start worker threads in this process up to the concurrency setting (lock held)."""
        if self._closed:
            return
        pid = os.getpid()
        if self._pid != pid:  # first start, or we are a forked child: parent threads are gone
            self._pid = pid
            self._workers = {}
            self._transport = WebhookTransport()
        for index in range(self._settings.max_concurrent_requests):
            thread = self._workers.get(index)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(
                    target=self._work, args=(index, pid), name=f"{self._name}-webhooks-{index}"
                )
                thread.daemon = True
                self._workers[index] = thread
                thread.start()

    def _cut(self, now: float) -> None:
        """Move pending events into deliveries when a batch is full or has waited enough."""
        if not self._pending:
            return
        settings = self._settings
        size = settings.max_batch_size
        waited = self._pending_since is not None and (
            now - self._pending_since >= settings.flush_interval_ms / 1000
        )
        force = waited or self._flushers > 0
        created_ms = self._clock.now_ms()
        while self._pending and (force or len(self._pending) >= size):
            n = min(size, len(self._pending))
            events = [self._pending.popleft() for _ in range(n)]
            delivery = self.log.new(events, created_ms)
            heapq.heappush(self._heap, (now, delivery.id))
        if not self._pending:
            self._pending_since = None

    def _take_due(self, now: float) -> Delivery | None:
        while self._heap and (self._heap[0][0] <= now or self._expedite > 0):
            _, delivery_id = heapq.heappop(self._heap)
            delivery = self.log.get(delivery_id)
            if delivery is not None and delivery.status in ("queued", "retrying"):
                return delivery
        return None

    def _wait_s(self, now: float) -> float:
        waits = [_IDLE_RECHECK_S]
        if self._heap:
            waits.append(self._heap[0][0] - now)
        if self._pending_since is not None:
            waits.append(self._pending_since + self._settings.flush_interval_ms / 1000 - now)
        return max(min(waits), 0.001)

    def _should_exit(self, index: int, pid: int) -> bool:
        return (
            self._closed
            or self._pid != pid
            or index >= self._settings.max_concurrent_requests
            or self._workers.get(index) is not threading.current_thread()
        )

    def _work(self, index: int, pid: int) -> None:
        idle_since = time.monotonic()
        while True:
            with self._lock:
                delivery = None
                while delivery is None:
                    now = time.monotonic()
                    if self._should_exit(index, pid) or (
                        self._idle() and now - idle_since > _IDLE_EXIT_S
                    ):
                        if self._workers.get(index) is threading.current_thread():
                            del self._workers[index]
                        return
                    self._cut(now)
                    delivery = self._take_due(now)
                    if delivery is None:
                        if not self._idle():
                            idle_since = now
                        self._wake.wait(self._wait_s(now))
                if self._heap:
                    self._wake.notify()  # more work is due: hand it to another worker
                delivery.status = "in_flight"
                delivery.next_attempt_ms = None
                self._in_flight += 1
                settings, signer, secret = self._settings, self._signer, self._secret
                generation, transport = self._generation, self._transport
            assert transport is not None
            try:
                result = self._attempt(transport, delivery, settings, signer, secret)
            except Exception as exc:  # noqa: BLE001 - a sender thread must never die
                log.exception("webhook delivery %s failed unexpectedly", delivery.id)
                result = AttemptResult(
                    len(delivery.attempts), self._clock.now_ms(), error=repr(exc)
                )
            with self._lock:
                self._in_flight -= 1
                if generation == self._generation:
                    self._settle(delivery, result)
                self._wake.notify()  # a retry may be due, or the lock-holder may be idle
                self._drained.notify_all()
            idle_since = time.monotonic()

    def _attempt(
        self,
        transport: WebhookTransport,
        delivery: Delivery,
        settings: SenderSettings,
        signer: Signer,
        secret: str,
    ) -> AttemptResult:
        attempt_number = len(delivery.attempts)
        body = delivery.body_for(self._shape, attempt_number)
        fault, delay_ms = self._faults.decide()
        sent_at = self._clock.now_ms()
        request, logged = transport.build(
            settings,
            signer,
            secret,
            body,
            sent_at,
            content_type=self._shape.content_type,
            extra_headers=self._shape.headers(settings, delivery.events, attempt_number),
            fault=fault,
            stale_by_ms=self._faults.config.stale_by_ms,
        )
        delivery.target_url = settings.target_url
        return transport.send(request, attempt_number, sent_at, fault, delay_ms, logged)

    def _settle(self, delivery: Delivery, result: AttemptResult) -> None:
        """Record an attempt; schedule the retry under the settings in force now."""
        settings = self._settings
        delivery.attempts.append(result)
        self.counters["attempts"] += 1
        if result.ok:
            delivery.status = "delivered"
            self.counters["deliveries_delivered"] += 1
            self.counters["events_delivered"] += len(delivery.events)
            return
        policy = settings.retry
        retry_number = len(delivery.attempts)
        if retry_number > policy.max_retries or result.status_code in policy.no_retry_statuses:
            delivery.status = "failed"
            self.counters["deliveries_failed"] += 1
            self.counters["events_failed"] += len(delivery.events)
            return
        if not settings.active:
            delivery.status = "discarded"
            self.counters["events_discarded"] += len(delivery.events)
            return
        delay_ms = policy.delay_ms(retry_number, self._rng.random())
        delivery.status = "retrying"
        delivery.next_attempt_ms = self._clock.now_ms() + int(delay_ms)
        heapq.heappush(self._heap, (time.monotonic() + delay_ms / 1000, delivery.id))

"""Webhook routing: declarative routes (provider, event type) -> action, grouping of ready
inbox events into batches, and the processor that runs batches through their handlers."""

from events.routing.loader import (
    DEFAULT_ROUTES_PATH,
    load_routes,
    load_routes_for,
    routes_path,
)
from events.routing.plan import (
    DispatchPlan,
    EventBatch,
    plan_dispatch,
    run_key_for,
)
from events.routing.processor import BatchOutcome, EventProcessor
from events.routing.routes import ExtractOptions, Route, RouteMatch, RouteTable

__all__ = [
    "DEFAULT_ROUTES_PATH",
    "BatchOutcome",
    "DispatchPlan",
    "EventBatch",
    "EventProcessor",
    "ExtractOptions",
    "Route",
    "RouteMatch",
    "RouteTable",
    "load_routes",
    "load_routes_for",
    "plan_dispatch",
    "routes_path",
    "run_key_for",
]

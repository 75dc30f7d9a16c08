"""The part of the `/_sandbox/` admin interface every provider's sandbox shares (no auth):
config and reset, the sandbox clock, API fault injection, and the request log.

The provider's sandbox supplies an `AdminHost` (its state object) and registers the blueprint
next to its own admin routes (health, data mutation, truth, limits). Refusals are
`SandboxRequestError`s, rendered by the provider's app in its own error shape. Names no provider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Blueprint, Response, request
from pydantic import BaseModel

from core.clock import Clock
from sandbox.common.faults import FaultConfig, FaultInjector
from sandbox.common.http import SandboxRequestError, json_object, json_response
from sandbox.common.reqlog import RequestLog
from sandbox.common.timefmt import iso_ms


class AdminHost(Protocol):
    """What the shared admin routes need from one sandbox app's state."""

    @property
    def config(self) -> BaseModel: ...

    @property
    def config_model(self) -> type[BaseModel]: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def faults(self) -> FaultInjector: ...

    @property
    def log(self) -> RequestLog: ...

    def reset(self, config: Any) -> None: ...


def admin_blueprint(name: str, host: Callable[[], AdminHost]) -> Blueprint:
    """`/_sandbox/config`, `/reset`, `/clock`, `/faults`, `/requests` and `/requests/summary`;
    `host()` gives the current app's state."""
    bp = Blueprint(name, __name__, url_prefix="/_sandbox")

    @bp.get("/config")
    def get_config() -> Response:
        return json_response(host().config.model_dump())

    @bp.post("/reset")
    def reset() -> Response:
        h = host()
        body = json_object()
        try:
            config = h.config_model(**body)
        except Exception as exc:  # pydantic ValidationError and TypeError alike
            raise SandboxRequestError(400, f"invalid config: {exc}") from exc
        h.reset(config)
        h.clock.reset()
        return json_response({"status": "reset", "config": config.model_dump()})

    @bp.route("/clock", methods=["GET", "POST"])
    def clock() -> Response:
        clk = host().clock
        if request.method == "POST":
            body = json_object()
            if body.get("reset"):
                clk.reset()
            if "now_ms" in body:
                clk.freeze(int(body["now_ms"]) / 1000)
                if body.get("freeze") is False:
                    clk.reset()
                    clk.advance(int(body["now_ms"]) / 1000 - clk.time())
            elif body.get("freeze") is True:
                clk.freeze()
            elif body.get("freeze") is False:
                now = clk.time()
                clk.reset()
                clk.advance(now - clk.time())
            if "advance_ms" in body:
                clk.advance(int(body["advance_ms"]) / 1000)
        now = clk.now_ms()
        return json_response({"now_ms": now, "now": iso_ms(now), "frozen": clk._frozen is not None})

    @bp.route("/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        injector = host().faults
        if request.method == "DELETE":
            injector.clear()
        elif request.method == "POST":
            body = json_object()
            try:
                injector.configure(FaultConfig(**body))
            except (TypeError, ValueError) as exc:
                raise SandboxRequestError(400, f"invalid faults: {exc}") from exc
        return json_response(injector.snapshot())

    @bp.route("/requests", methods=["GET", "DELETE"])
    def requests_log() -> Response:
        log = host().log
        if request.method == "DELETE":
            log.clear()
            return json_response({"status": "cleared"})
        since = int(request.args.get("since", 0))
        return json_response({"requests": log.since(since)})

    @bp.get("/requests/summary")
    def requests_summary() -> Response:
        return json_response(host().log.summary())

    return bp

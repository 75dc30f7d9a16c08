"""`POST /api/v1/webhooks/<provider>/<integration_id>`: the hot path, handed to the receiver.

The Flask route is the reference and serves every request the fast path below does not take
(tests that call the view, other methods answered 405, odd paths redirected or 404). In front of
Flask, `DeliveryRoute` takes exactly `POST /api/v1/webhooks/<provider>/<integration_id>` (two
non-empty segments, as the route's converters match them) and hands it to the same receiver
without Flask's per-request machinery: no request and app contexts pushed and popped, no walk of
the whole URL map, no signals, no `after_request` chain. That machinery cost about as much CPU
as the bare Flask app the benchmark compares against spends on a whole request; the answers are
the same (the receiver builds them), and an unexpected error is answered exactly as the app's
error handlers answer it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Request, Response, request
from werkzeug.exceptions import HTTPException

from webhook_receiver.receiver import DeliveryReceiver
from webhook_receiver.services import services

bp = Blueprint("webhooks", __name__)

PREFIX = "/api/v1/webhooks/"


@bp.post("/api/v1/webhooks/<provider>/<integration_id>")
def receive(provider: str, integration_id: str) -> Response:
    return services().receiver.receive(provider, integration_id, request)


class DeliveryRoute:
    """WSGI middleware: deliveries straight to the receiver, everything else to `app`."""

    def __init__(
        self,
        app: Callable[[dict, Callable], Iterable[bytes]],
        receiver: DeliveryReceiver,
        *,
        trusted_hosts: list[str] | None,
        on_http_error: Callable[[HTTPException], Response],
        on_error: Callable[[Exception], Response],
    ) -> None:
        self._app = app
        self._receiver = receiver
        self._trusted_hosts = trusted_hosts
        self._on_http_error = on_http_error
        self._on_error = on_error

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        target = _delivery_target(environ)
        if target is None:
            return self._app(environ, start_response)
        req = Request(environ)
        if self._trusted_hosts is not None:
            req.trusted_hosts = self._trusted_hosts
        try:
            response = self._receiver.receive(target[0], target[1], req)
        except HTTPException as exc:  # e.g. an untrusted Host header
            response = self._on_http_error(exc)
        except Exception as exc:  # noqa: BLE001 - answered as the app's handler answers it
            response = self._on_error(exc)
        body = response.response
        if isinstance(body, list):  # the receiver's JSON answers: headers final already
            start_response(response.status, response.headers.to_wsgi_list())
            return body
        return response(environ, start_response)


def _delivery_target(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(provider, integration_id) when the request is a POST the delivery route matches."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX):
        return None
    provider, slash, integration_id = path[len(PREFIX) :].partition("/")
    if not provider or not slash or not integration_id or "/" in integration_id:
        return None
    # WSGI carries the path as latin-1; werkzeug's routing decodes it as UTF-8 the same way.
    return (
        provider.encode("latin-1").decode("utf-8", "replace"),
        integration_id.encode("latin-1").decode("utf-8", "replace"),
    )

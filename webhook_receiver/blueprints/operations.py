"""Operations endpoints: `/health` (inbox reachable, counts), `/metrics`, `/openapi.json`."""

from __future__ import annotations

from flask import Blueprint, Response

from inbox import InboxUnavailable
from webhook_receiver.metrics import CONTENT_TYPE
from webhook_receiver.openapi import openapi_document
from webhook_receiver.responses import json_response
from webhook_receiver.services import services

bp = Blueprint("operations", __name__)


@bp.get("/health")
def health() -> Response:
    inbox = services().inbox
    try:
        counts = inbox.counts()
    except InboxUnavailable:
        body = {"status": "unavailable", "inbox": {"backend": inbox.backend, "reachable": False}}
        return json_response(body, 503)
    return json_response(
        {"status": "ok", "inbox": {"backend": inbox.backend, "reachable": True, "counts": counts}}
    )


@bp.get("/metrics")
def metrics() -> Response:
    return Response(services().metrics.render(), mimetype=None, content_type=CONTENT_TYPE)


@bp.get("/openapi.json")
def openapi() -> Response:
    return json_response(openapi_document(services().settings.WEBHOOK_BASE_URL))

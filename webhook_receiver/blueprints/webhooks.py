"""`POST /api/v1/webhooks/<provider>/<integration_id>`: the hot path, handed to the receiver."""

from __future__ import annotations

from flask import Blueprint, Response, request

from webhook_receiver.services import services

bp = Blueprint("webhooks", __name__)


@bp.post("/api/v1/webhooks/<provider>/<integration_id>")
def receive(provider: str, integration_id: str) -> Response:
    return services().receiver.receive(provider, integration_id, request)

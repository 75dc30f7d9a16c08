"""Reading request bodies with a hard size limit, before anything else looks at them."""

from __future__ import annotations

from flask import Request

from webhook_receiver.responses import Refusal

_READ_CHUNK = 65_536


def too_large(limit: int) -> Refusal:
    return Refusal(413, "payload_too_large", f"the body is larger than {limit} bytes")


def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it passes `limit`, chunked bodies included."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    stream = request.stream
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise too_large(limit)

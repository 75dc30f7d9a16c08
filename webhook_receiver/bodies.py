"""Reading request bodies with a hard size limit, before anything else looks at them."""

from __future__ import annotations

from flask import Request

from webhook_receiver.responses import Refusal

_READ_CHUNK = 65_536


def too_large(limit: int) -> Refusal:
    return Refusal(413, "payload_too_large", f"the body is larger than {limit} bytes")


def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it passes `limit`, chunked bodies included.

    Reads `wsgi.input` directly, as werkzeug's stream would: exactly Content-Length bytes when
    it is declared, up to the end when the server terminates the stream (chunked), else none.
    """
    environ = request.environ
    length = request.content_length
    if length is not None and length > limit:
        raise too_large(limit)
    stream = environ["wsgi.input"]
    if length is None:
        if not environ.get("wsgi.input_terminated"):
            return b""
        wanted = limit + 1  # read on until the end, or until one byte past the limit
    else:
        wanted = length
    chunks: list[bytes] = []
    total = 0
    while total < wanted:
        chunk = stream.read(min(_READ_CHUNK, wanted - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise too_large(limit)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

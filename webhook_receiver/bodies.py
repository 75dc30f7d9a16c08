"""Reading request bodies with a hard size limit and a time limit, before anything else looks
at them."""

from __future__ import annotations

from flask import Request

from webhook_receiver.read_deadline import ReadDeadlines, deadlines
from webhook_receiver.responses import Refusal

_READ_CHUNK = 65_536


def too_large(limit: int) -> Refusal:
    return Refusal(413, "payload_too_large", f"the body is larger than {limit} bytes")


def too_slow(timeout_s: float) -> Refusal:
    # No Connection header (hop-by-hop, not the application's): the server closes the
    # connection itself, its reading side being shut.
    return Refusal(408, "request_timeout", f"the body did not arrive within {timeout_s:g} s")


def read_body(
    request: Request,
    limit: int,
    timeout_s: float | None = None,
    watcher: ReadDeadlines = deadlines,
) -> bytes:
    """The raw body, refused (413) as soon as it passes `limit`, chunked bodies included, and
    (408) when it has not fully arrived `timeout_s` after the read began (gunicorn only: its
    socket is what a deadline shuts; see read_deadline).

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
    sock = environ.get("gunicorn.socket") if timeout_s is not None else None
    chunks: list[bytes] = []
    total = 0
    with watcher.watch(sock, timeout_s or 0.0) as watch:
        try:
            while total < wanted:
                chunk = stream.read(min(_READ_CHUNK, wanted - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except Exception:
            if watch.expired:  # the shut socket made the server's reader give up
                raise too_slow(timeout_s or 0.0) from None
            raise
        if watch.expired and (length is None or total < length):
            raise too_slow(timeout_s or 0.0)
    if total > limit:
        raise too_large(limit)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

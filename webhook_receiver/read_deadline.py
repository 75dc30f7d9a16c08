"""A bound on how long a request body may take to arrive (slow clients, issue 9 item 8).

Gunicorn's threaded workers read a body in the request's thread with a blocking socket and no
time limit: a client trickling its body a byte at a time holds that thread for as long as it
likes. `ReadDeadlines` watches the sockets of the bodies being read; when one is past its
deadline it shuts the socket's reading side, so the blocked read returns at once, short, and the
receiver answers 408 (its writing side stays open for that answer). One daemon thread per
process ticks a few times a second over the few bodies in flight; the hot path only adds and
removes a dict entry.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

TICK_S = 0.1


class ReadDeadlines:
    """Sockets whose body must have arrived by a deadline (monotonic seconds)."""

    def __init__(self, tick_s: float = TICK_S) -> None:
        self._tick = tick_s
        self._watched: dict[int, tuple[float, socket.socket]] = {}
        self._expired: set[int] = set()
        self._pid: int | None = None
        self._lock = threading.Lock()

    @contextmanager
    def watch(self, sock: socket.socket | None, timeout_s: float) -> Iterator[ReadWatch]:
        """Within the block, `sock` is shut for reading once `timeout_s` have passed."""
        watch = ReadWatch(self)
        if sock is None:  # not served by gunicorn (tests, other servers): nothing to bound
            yield watch
            return
        self._ensure_thread()
        key = id(watch)
        self._watched[key] = (time.monotonic() + timeout_s, sock)
        watch.key = key
        try:
            yield watch
        finally:
            self._watched.pop(key, None)
            self._expired.discard(key)

    def expired(self, key: int | None) -> bool:
        return key is not None and key in self._expired

    def sweep(self, now: float | None = None) -> int:
        """Shut every socket past its deadline; how many were shut."""
        now = time.monotonic() if now is None else now
        shut = 0
        for key, (deadline, sock) in list(self._watched.items()):
            if deadline <= now and key not in self._expired:
                self._expired.add(key)
                with contextlib.suppress(OSError):  # the client may be gone already
                    sock.shutdown(socket.SHUT_RD)
                shut += 1
        return shut

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # once per process (gunicorn forks workers)
                threading.Thread(target=self._run, name="body-read-deadlines", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            time.sleep(self._tick)
            if self._watched:
                self.sweep()


class ReadWatch:
    """One watched body read: whether its deadline cut it short."""

    def __init__(self, owner: ReadDeadlines) -> None:
        self._owner = owner
        self.key: int | None = None

    @property
    def expired(self) -> bool:
        return self._owner.expired(self.key)


deadlines = ReadDeadlines()

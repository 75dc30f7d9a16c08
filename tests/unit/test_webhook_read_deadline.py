"""The body read deadline (issue 9 item 8): a watched socket past its deadline is shut for
reading, so a blocked read returns at once; a finished read is no longer watched."""

from __future__ import annotations

import socket
import time

from webhook_receiver.read_deadline import ReadDeadlines


def test_a_socket_past_its_deadline_is_shut_for_reading():
    watcher = ReadDeadlines()
    server, client = socket.socketpair()
    try:
        client.sendall(b"abc")
        with watcher.watch(server, 0.5) as watch:
            assert watcher.sweep(now=time.monotonic()) == 0
            assert not watch.expired
            assert watcher.sweep(now=time.monotonic() + 1) == 1
            assert watch.expired
            assert server.recv(10) == b"abc"
            assert server.recv(10) == b""  # would have blocked forever without the deadline
        server.sendall(b"408")  # the answer still goes out
        assert client.recv(10) == b"408"
    finally:
        server.close()
        client.close()


def test_a_read_that_finished_in_time_is_forgotten():
    watcher = ReadDeadlines()
    server, client = socket.socketpair()
    try:
        with watcher.watch(server, 0.5):
            pass
        assert watcher.sweep(now=time.monotonic() + 10) == 0
        client.sendall(b"more")
        assert server.recv(10) == b"more"
    finally:
        server.close()
        client.close()


def test_the_watchdog_thread_shuts_a_stalled_read_by_itself():
    watcher = ReadDeadlines(tick_s=0.02)
    server, client = socket.socketpair()
    try:
        with watcher.watch(server, 0.1) as watch:
            server.settimeout(5)
            assert server.recv(10) == b""  # returned by the shutdown, well before 5 s
            assert watch.expired
    finally:
        server.close()
        client.close()

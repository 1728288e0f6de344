"""A loopback TCP relay that a test can cut, to take a database away from a running service.

``TcpProxy(("127.0.0.1", 5432))`` listens on a free loopback port and relays every connection to
the upstream address. ``cut()`` breaks the live connections and closes new ones as soon as they
are accepted (a database that went down); ``cut(hold=True)`` accepts new ones and never answers
(a host gone from the network); ``stall()`` keeps every connection open but forwards nothing
more either way (a server, or a network, that stopped answering mid-query); ``lose_reply_to(marker)``
delivers the next message holding ``marker`` but breaks the connection before its answer comes
back. ``restore()`` ends a cut or a stall (stalled connections are broken, what they held is
dropped) and ``close()`` stops everything; no socket or thread outlives it.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional


@dataclass
class _Link:
    """One relayed connection: both sockets, closed once both directions have finished."""

    downstream: socket.socket
    upstream: socket.socket
    directions_done: int = 0
    reply_lost: bool = False  # the next bytes from upstream are dropped and the link broken
    stalled: bool = False  # nothing more is forwarded; the link breaks once the stall ends

    @property
    def sockets(self) -> tuple[socket.socket, socket.socket]:
        return self.downstream, self.upstream

    def shutdown(self) -> None:
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class TcpProxy:
    """A loopback TCP relay to ``upstream`` that can be cut: live connections are closed, and
    until ``restore()`` new ones are closed as soon as accepted or, with ``hold``, accepted and
    never answered (a database host that vanished from the network)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.refused = 0
        self.hold = False
        self.stalled = False
        self._lose_reply_to: Optional[bytes] = None
        self._held: list[socket.socket] = []
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._links: list[_Link] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.open.is_set():
                self.refused += 1
                if self.hold or self.stalled:
                    with self._lock:
                        self._held.append(downstream)
                else:
                    downstream.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                downstream.close()
                continue
            downstream.settimeout(None)
            upstream.settimeout(None)
            link = _Link(downstream, upstream)
            with self._lock:
                self._live.update(link.sockets)
                self._links.append(link)
            self._start(self._relay, link, downstream, upstream)
            self._start(self._relay, link, upstream, downstream)

    def _relay(self, link: "_Link", source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if link.stalled:
                    continue  # swallowed: the peer waits for ever (until the stall ends)
                if source is link.upstream and link.reply_lost:
                    break
                if source is link.downstream and self._loses_reply_to(chunk):
                    link.reply_lost = True  # before sending: the reply may come back at once
                sink.sendall(chunk)
        except OSError:
            pass
        # Shutting both down wakes the other direction's recv; the last one out closes.
        link.shutdown()
        with self._lock:
            link.directions_done += 1
            last = link.directions_done == 2
            if last:
                self._live.difference_update(link.sockets)
                self._links.remove(link)
        if last:
            for sock in link.sockets:
                sock.close()

    def lose_reply_to(self, marker: bytes) -> None:
        """The next message sent upstream that contains ``marker`` is delivered, but its reply is
        not: the connection breaks first (once)."""
        with self._lock:
            self._lose_reply_to = marker

    def _loses_reply_to(self, chunk: bytes) -> bool:
        with self._lock:
            if self._lose_reply_to is None or self._lose_reply_to not in chunk:
                return False
            self._lose_reply_to = None
            return True

    def cut(self, hold: bool = False) -> None:
        """Break every live connection; refuse new ones, or with ``hold`` leave them unanswered."""
        self.hold = hold
        self.open.clear()
        with self._lock:
            live = list(self._live)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stall(self) -> None:
        """Forward nothing more on live connections, and accept new ones without answering."""
        self.stalled = True
        self.open.clear()
        with self._lock:
            for link in self._links:
                link.stalled = True

    def restore(self) -> None:
        with self._lock:
            stalled = [link for link in self._links if link.stalled]
        for link in stalled:
            link.shutdown()
        self.stalled = False
        self.open.set()
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            sock.close()

    def close(self) -> None:
        self._closing.set()
        self.cut()
        for thread in self._threads:
            thread.join(timeout=10)
        self.listener.close()
        self.restore()  # closes held connections

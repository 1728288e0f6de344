"""The frames of an accepted WebSocket connection.

flask-sock (simple-websocket over wsproto) answers the opening handshake. From then on the
connection's frames are read and written here, by websockets' sans-I/O protocol, whose frame
parsing and unmasking run in C, on the thread that serves the socket: no reader thread, so a
message does not cross threads on its way in. The protocol answers pings, echoes the peer's
close, refuses oversized messages (1009) and fails the connection on protocol errors; this
module reassembles fragmented messages, decodes text (1007 for invalid UTF-8) and moves bytes
between the protocol and the socket.

Permessage-deflate, when the handshake agreed to it, is carried over with the parameters
wsproto accepted, so compressed and plain clients are both served.

A peer that vanished (a killed process, a dropped network) sends nothing, not even a close:
when nothing has arrived for ``ping_seconds`` the channel sends a ping, and when nothing has
arrived for as long again it closes (1011). A peer that answers pings but sends no message for
``idle_seconds`` is closed too (1001). Either way its slot is free for the next client.
"""

from __future__ import annotations

import socket
import time
from typing import Any, Optional, Union

from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import SEND_EOF, Protocol, Side, State
from wsproto.extensions import PerMessageDeflate as HandshakeDeflate

RECEIVE_BYTES = 65536
# How long a connection closed by this side waits for the peer's close frame.
CLOSE_TIMEOUT_SECONDS = 1.0
# How long a send may wait for the peer to take its bytes before the peer counts as gone.
SEND_TIMEOUT_SECONDS = 30.0


class ChannelClosed(Exception):
    """The connection is closed (by the peer, by this side or by a protocol failure)."""


class HandshakeOnly:
    """simple_websocket's ``thread_class``: its reader thread is never started, because the
    connection's frames are read by :class:`Channel` on the thread serving the socket."""

    def __init__(self, target: Any = None, **_: Any) -> None:
        self.name = "websocket-reader (unused)"

    def start(self) -> None:
        """Nothing to start."""


def negotiated_extensions(handshake: Any, deflate_level: int) -> list[Extension]:
    """websockets' equivalents of the extensions wsproto's handshake (``handshake``, a
    ``wsproto.WSConnection``) agreed to: permessage-deflate with its accepted parameters, the
    only extension simple-websocket offers, compressing at zlib level ``deflate_level``."""
    connection = getattr(handshake, "connection", None)
    agreed = getattr(getattr(connection, "_proto", None), "extensions", [])
    extensions: list[Extension] = []
    for extension in agreed:
        if isinstance(extension, HandshakeDeflate) and extension.enabled():
            extensions.append(PerMessageDeflate(
                remote_no_context_takeover=extension.client_no_context_takeover,
                local_no_context_takeover=extension.server_no_context_takeover,
                remote_max_window_bits=extension.client_max_window_bits,
                local_max_window_bits=extension.server_max_window_bits,
                compress_settings={"level": deflate_level},
            ))
    return extensions


class Channel:
    """Messages in and out of one accepted WebSocket (a flask-sock ``ws``).

    ``max_size`` bounds a message, fragments included: beyond it the connection closes with
    1009 before the payload is buffered. ``deflate_level``: zlib level of outgoing messages
    when the handshake agreed to permessage-deflate. ``ping_seconds`` (0: never ping) and
    ``idle_seconds`` (0: no limit) are described in the module's docstring.
    """

    def __init__(self, ws: Any, max_size: int, deflate_level: int,
                 ping_seconds: float = 0, idle_seconds: float = 0) -> None:
        self.sock: socket.socket = ws.sock
        self.ping_seconds, self.idle_seconds = ping_seconds, idle_seconds
        self.heard = self.last_message = time.monotonic()  # anything at all / a message
        self.pinged = False
        self.protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=max_size)
        self.protocol.extensions = negotiated_extensions(ws.ws, deflate_level)
        # flask-sock closes its own object after the handler returns; it must not write a
        # second close frame into a connection this channel has closed.
        ws.connected = False
        self.pending: list[Union[str, bytes]] = []
        self.fragments: list[bytes] = []
        self.fragmented_opcode: Opcode | None = None

    @property
    def open(self) -> bool:
        """True while messages can still be sent."""
        return self.protocol.state is State.OPEN

    def receive(self) -> Union[str, bytes]:
        """The next message (``str`` for text, ``bytes`` for binary).

        Raises :class:`ChannelClosed` once the peer has closed, the connection failed, or this
        side closed it.
        """
        while not self.pending:
            if self.protocol.state is not State.OPEN:
                raise ChannelClosed(self._reason())
            try:
                self.sock.settimeout(self._wait_seconds())
                data = self.sock.recv(RECEIVE_BYTES)
            except TimeoutError:
                self._keep_alive()
                continue
            except OSError:
                data = b""
            if data:
                self.heard, self.pinged = time.monotonic(), False
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
            for event in self.protocol.events_received():
                self._collect(event)
            self._flush()
        self.last_message = time.monotonic()
        return self.pending.pop(0)

    def _wait_seconds(self) -> Optional[float]:
        """How long the next read may wait before a ping is due or a limit is reached (None:
        for ever)."""
        deadlines = []
        if self.ping_seconds > 0:
            deadlines.append(self.heard + self.ping_seconds * (2 if self.pinged else 1))
        if self.idle_seconds > 0:
            deadlines.append(self.last_message + self.idle_seconds)
        if not deadlines:
            return None
        return max(0.001, min(deadlines) - time.monotonic())

    def _keep_alive(self) -> None:
        """A read timed out: ping a quiet peer, or close a channel whose peer is gone or idle."""
        now = time.monotonic()
        if self.idle_seconds > 0 and now >= self.last_message + self.idle_seconds:
            self.close(CloseCode.GOING_AWAY, f"idle for {self.idle_seconds:g} s")
        elif self.ping_seconds > 0 and now >= self.heard + self.ping_seconds:
            if self.pinged:
                self.close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
                self.protocol.receive_eof()  # the peer is gone: no close frame will come
                self.protocol.events_received()
            else:
                self.pinged = True
                self.protocol.send_ping(b"")
                self._flush()

    def send(self, text: str) -> None:
        """Send one text message."""
        if self.protocol.state is not State.OPEN:
            raise ChannelClosed(self._reason())
        self.protocol.send_text(text.encode("utf-8"))
        self._flush()

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (nothing happens when it has started already)."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self._flush()

    def finish(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        """Close the TCP connection: once the peer has answered a close this side sent, or
        after ``timeout``, so that the close frame is not lost to a reset while the peer is
        still sending."""
        try:
            deadline = time.monotonic() + timeout
            while (self.protocol.state is State.CLOSING and self.protocol.close_rcvd is None
                   and (left := deadline - time.monotonic()) > 0):
                self.sock.settimeout(left)
                data = self.sock.recv(RECEIVE_BYTES)
                if not data:
                    break
                self.protocol.receive_data(data)
                self.protocol.events_received()
                self._flush()
        except OSError:
            pass
        finally:
            self.sock.close()

    # ------------------------------------------------------------------ internals

    def _collect(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._deliver(opcode, frame.data)
            else:
                self.fragmented_opcode, self.fragments = opcode, [frame.data]
        elif opcode is Opcode.CONT and self.fragmented_opcode is not None:
            self.fragments.append(frame.data)
            if frame.fin:
                opcode, data = self.fragmented_opcode, b"".join(self.fragments)
                self.fragmented_opcode, self.fragments = None, []
                self._deliver(opcode, data)

    def _deliver(self, opcode: Opcode, data: bytes) -> None:
        if opcode is Opcode.BINARY:
            self.pending.append(bytes(data))
            return
        try:
            self.pending.append(bytes(data).decode("utf-8"))
        except UnicodeDecodeError:
            self.protocol.fail(CloseCode.INVALID_DATA, "text frames must be valid UTF-8")

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            try:
                if chunk == SEND_EOF:
                    self.sock.shutdown(socket.SHUT_WR)
                else:
                    self.sock.settimeout(SEND_TIMEOUT_SECONDS)
                    self.sock.sendall(chunk)
            except OSError:
                # The peer is gone: nothing more can be read or written.
                self.protocol.receive_eof()
                self.protocol.events_received()
                self.protocol.data_to_send()
                return

    def _reason(self) -> str:
        received = self.protocol.close_rcvd
        return f"closed ({received.code})" if received is not None else "closed"

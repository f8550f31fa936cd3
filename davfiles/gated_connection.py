"""The connection a request thread works on: the gate's buffer first, then the socket, timed.

Split from ``davfiles.connections`` (the selector side): what happens once a request thread
has the connection. Its reads start with the bytes the head gate already read, reads from the
socket are timed by the connection's ``BodyClock``, and the request finishes what the
application left of a body before the next request (see ``davfiles.connections``).
"""

from __future__ import annotations

import _pyio
import socket
import time
from typing import TYPE_CHECKING, Any

from cheroot.makefile import StreamReader, StreamWriter
from cheroot.server import HTTPConnection, HTTPRequest, KnownLengthRFile
from cheroot.wsgi import Gateway_10, Server

from davfiles.body_rate import BODY_CLOCK_KEY, BODY_RECEIVED_KEY, BodyClock
from davfiles.drain import DRAIN_LIMIT
from davfiles.errors import BodyTooSlow

if TYPE_CHECKING:
    from davfiles.connections import HeadGate

RECV_SIZE = 65536


class _PendingFirstIO(socket.SocketIO):
    """A socket's raw reader that first returns the bytes the gate already read, then reads
    the socket within the time ``clock`` allows."""

    def __init__(self, sock: socket.socket, pending: bytearray, clock: BodyClock) -> None:
        super().__init__(sock, "rb")
        self.pending = pending
        self.clock = clock

    def readinto(self, buffer: Any) -> int | None:
        if self.pending:
            count = min(len(buffer), len(self.pending))
            buffer[:count] = self.pending[:count]
            del self.pending[:count]
            return count
        sock = self._sock  # type: ignore[attr-defined]
        timeout = sock.gettimeout()
        sock.settimeout(self.clock.allowance())
        started = time.monotonic()
        try:
            count = super().readinto(buffer)
        except TimeoutError:
            raise self.clock.expire() from None
        finally:
            sock.settimeout(timeout)
        self.clock.account(time.monotonic() - started, count or 0)
        return count


class _PendingFirstReader(StreamReader):
    """cheroot's socket reader over ``_PendingFirstIO``."""

    def __init__(
        self, sock: socket.socket, pending: bytearray, clock: BodyClock, bufsize: int
    ) -> None:
        _pyio.BufferedReader.__init__(self, _PendingFirstIO(sock, pending, clock), bufsize)
        self.bytes_read = 0

    def buffered_size(self) -> int:
        """Bytes that a read returns without waiting for the socket."""
        return len(self._read_buf) - self._read_pos + len(self.raw.pending)

    def take_buffered(self) -> bytes:
        """Bytes read from the socket but not yet by cheroot (a pipelined next request)."""
        chunks = []
        while self.has_data():
            chunks.append(self.read1(RECV_SIZE))
        return b"".join(chunks)


class GatedRequest(HTTPRequest):
    """cheroot's request, finishing the body itself before the answer (see the module doc).

    An answer that says ``Connection: close`` closes the connection without reading the rest
    of the body, as cheroot does for 413 (it sent the header and read on).
    """

    def send_headers(self) -> None:
        if not self.close_connection:
            closing = int(self.status[:3]) == 413 or (b"Connection", b"close") in [
                (name.title(), value.lower()) for name, value in self.outheaders
            ]
            self.close_connection = closing or not self._body_finished()
        super().send_headers()

    def _body_finished(self) -> bool:
        """Read what the application left of the body; False if that cannot be done.

        Only up to ``DRAIN_LIMIT`` bytes: an answer given early (401, 507) to a huge body must
        not hold the thread for as long as the client cares to send, so beyond that the
        connection is closed instead.
        """
        if self.chunked_read:
            return bool(self.rfile.closed)
        if getattr(self.rfile, "remaining", 0) > DRAIN_LIMIT:
            return False
        try:
            while (remaining := getattr(self.rfile, "remaining", 0)) > 0:
                if not self.rfile.read(min(remaining, RECV_SIZE)):
                    return False
        except (BodyTooSlow, OSError):
            return False
        return True


class GatedConnection(HTTPConnection):
    """A cheroot connection whose reads start with the gate's buffer ``pending``."""

    RequestHandlerClass = GatedRequest

    def __init__(self, server: Server, sock: socket.socket, gate: HeadGate) -> None:
        self.pending = bytearray()
        self.body_clock = BodyClock(gate.limits.body_rate)
        self._gate: HeadGate | None = gate
        super().__init__(server, sock, self._makefile)

    def _makefile(self, sock: socket.socket, mode: str, bufsize: int) -> Any:
        if "r" in mode:
            return _PendingFirstReader(sock, self.pending, self.body_clock, bufsize)
        return StreamWriter(sock, mode, bufsize)

    def close(self) -> None:
        try:
            super().close()
        finally:
            gate, self._gate = self._gate, None
            if gate is not None:
                gate.release()


class ClockGateway(Gateway_10):
    """cheroot's WSGI gateway, lending the connection's body clock to ``SlowBodyAnswer`` and
    saying whether the whole body has already arrived (``BODY_RECEIVED_KEY``).

    A small upload whose bytes are all here can be stored in one transaction: it holds no
    request thread waiting for its body, so it needs none of the upload slots that cap the
    uploads in progress.
    """

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ[BODY_CLOCK_KEY] = self.req.conn.body_clock
        body = self.req.rfile
        reader = self.req.conn.rfile
        if isinstance(body, KnownLengthRFile) and isinstance(reader, _PendingFirstReader):
            environ[BODY_RECEIVED_KEY] = reader.buffered_size() >= body.remaining
        return environ

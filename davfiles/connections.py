"""Hand a connection to a request thread only once its whole request head has arrived.

cheroot gives every new or kept-alive connection with a readable byte to a worker thread,
which then blocks reading the request line and headers, with a timeout per ``recv``. A few
hundred clients that connect and send nothing, half a request line or a header line every few
seconds therefore held every thread, and normal requests waited behind them.

``HeadGate`` replaces cheroot's ``ConnectionManager`` (same interface: ``run``, ``stop``,
``close``, ``put``, ``can_add_keepalive_connection``). Its one selector thread accepts
connections, runs the TLS handshake without blocking, and reads the request head into a
per-connection buffer; the connection goes to a worker only when the blank line ending the head
has arrived, and the worker's ``rfile`` reads that buffer before the socket. A head must arrive
within ``header_timeout`` seconds in total (not per ``recv``), a kept-alive connection may idle
``idle_timeout`` seconds, a head is at most ``max_header_bytes`` with ``max_header_fields``
fields (431 above), and at most ``max_connections`` are open (new ones get 503 above). A
complete head whose framing is ambiguous (``davfiles.framing``) is answered by the gate and
the connection closed, so no thread, no door and no later request on it ever sees it.

A body of at most ``BODY_PRELOAD`` bytes always arrives whole in the gate before its request
takes a thread. A quarter of the threads is kept for requests without a body. When the others
are busy, a request with a larger body waits in the gate, first for its first
``BODY_PRELOAD`` bytes, then for a thread: requests without a body always find one, and a client
trickling its body under load never gets one. Gate and worker both time the body with the
connection's ``BodyClock`` (``davfiles.body_rate``): a client sending slower than
``min_body_rate`` gets 408 and loses the connection. What the application leaves of a body is
read in blocks before the next request (cheroot read it into memory in one piece), and a
connection whose body cannot be finished is closed, never read on as if the rest were a new
request.
"""

from __future__ import annotations

import collections
import json
import logging
import resource
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from cheroot.wsgi import Server

from davfiles.body_rate import BodyRate, SlowBodyAnswer
from davfiles.errors import ConfigError
from davfiles.framing import body_start, head_problem
from davfiles.gated_connection import RECV_SIZE, ClockGateway, GatedConnection

# How long a refused connection is drained after the answer before it is closed: closing a
# socket with unread input sends a reset, which can destroy the answer before the client reads
# it.
LINGER_SECONDS = 2.0
ACCEPTS_PER_WAKEUP = 64
TOO_LARGE = "431 Request Header Fields Too Large"
PLAIN = "text/plain; charset=utf-8"
# Framing refusals have the shape of RequestGuard's 400 for other malformed requests.
JSON = "application/json"
# The start of a body the gate waits for before a thread reads the rest.
BODY_PRELOAD = 16 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# A chunked body ends with a blank line, after "0\r\n" and any trailer fields.
CHUNKED_END = b"\r\n\r\n"
SHORTEST_CHUNKED = len(b"0\r\n\r\n")
# One in this many request threads is kept for requests without a body.
RESERVED_THREADS_SHARE = 4
# How often deadlines are checked, in seconds.
EXPIRY_INTERVAL = 0.25
# Descriptors besides connections: listening socket, selector, files and database of workers.
SPARE_DESCRIPTORS = 256


@dataclass(frozen=True)
class ConnectionLimits:
    """How long and how much a client may take before its request reaches a thread."""

    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_header_fields: int = 100
    max_connections: int = 1000
    body_rate: BodyRate = BodyRate()


def head_end(buffer: bytes | bytearray, start: int) -> int | None:
    """Offset just past the blank line ending the request head, searching from ``start``.

    One leading CRLF is skipped, as cheroot does (RFC 9112 2.2); bare LF line ends count too,
    so that cheroot can answer such a head with 400 rather than the client waiting.
    """
    first = 2 if buffer.startswith(b"\r\n") else 0
    start = max(start, first)
    ends = [
        found + len(mark)
        for mark in (b"\n\r\n", b"\n\n")
        if (found := buffer.find(mark, start)) >= 0
    ]
    return min(ends) if ends else None


def header_field_count(head: bytes | bytearray) -> int:
    """Lines between the request line and the blank line (continuation lines count)."""
    return max(head.lstrip(b"\r\n").count(b"\n") - 2, 0)


@dataclass(eq=False)
class _Waiting:
    """A connection the gate holds until its request head is complete."""

    sock: Any
    address: Any
    deadline: float
    conn: GatedConnection | None = None  # None while the TLS handshake runs
    scanned: int = 0
    idle: bool = False
    lingering: bool = False
    events: int = selectors.EVENT_READ
    fd: int = -1
    # While the start of the body is awaited: where the head ends, the length of ``pending``
    # that completes the wait, and when and up to which length the body clock was charged.
    head_end: int = 0
    body_until: int | None = None
    chunked: bool = False
    clock_at: float = 0.0
    counted: int = 0


def _response(status: str, message: str, content_type: str = PLAIN) -> bytes:
    body = message.encode() + b"\n"
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _send_quietly(sock: Any, data: bytes, *, plain: bool = False) -> None:
    """Best effort on a non-blocking socket: a short answer fits into an empty send buffer.

    ``plain`` sends past the TLS layer of an ``SSLSocket``.
    """
    try:
        if plain:
            socket.socket.send(sock, data)
        else:
            sock.send(data)
    except (OSError, ValueError):
        pass


class HeadGate:
    """The selector thread of ``GatedServer``; see the module docstring."""

    def __init__(self, server: Server, limits: ConnectionLimits) -> None:
        self.server = server
        self.limits = limits
        self._selector = selectors.DefaultSelector()
        self._listener = server.socket
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._waiting: dict[int, _Waiting] = {}
        self._returned: collections.deque[GatedConnection] = collections.deque()
        # Requests with a body waiting for a thread while the reserved ones are all that is left.
        self._parked: collections.deque[GatedConnection] = collections.deque()
        self._reserved_threads = server.requests.min // RESERVED_THREADS_SHARE
        self._open = 0
        self._open_lock = threading.Lock()
        self._stop_requested = False
        self._serving = False
        self._next_expiry = 0.0

    # The interface cheroot's HTTPServer uses.

    @property
    def can_add_keepalive_connection(self) -> bool:
        """Keep connections alive unless the server is full (then new clients get the room)."""
        return self._open < self.limits.max_connections

    def put(self, conn: GatedConnection) -> None:
        """A worker is done with a kept-alive connection: wait for its next request head."""
        self._returned.append(conn)
        self._wake()

    def run(self, expiration_interval: float) -> None:
        self._serving = True
        try:
            while not self._stop_requested:
                self._step(expiration_interval)
        finally:
            self._serving = False

    def stop(self) -> None:
        self._stop_requested = True
        self._wake()
        for _ in range(500):
            if not self._serving:
                return
            time.sleep(0.01)

    def close(self) -> None:
        for waiting in list(self._waiting.values()):
            self._drop(waiting)
        while self._returned:
            self._returned.popleft().close()
        while self._parked:
            self._parked.popleft().close()
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    # Counting open connections (workers close theirs through GatedConnection.close).

    def release(self) -> None:
        with self._open_lock:
            self._open -= 1
        if self._parked:
            self._wake()  # a thread is free again

    def _acquire(self) -> bool:
        with self._open_lock:
            if self._open >= self.limits.max_connections:
                return False
            self._open += 1
            return True

    # The selector loop.

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"\0")
        except OSError:
            pass

    def _step(self, interval: float) -> None:
        ready = self._selector.select(timeout=interval)
        while self._parked and self._thread_for_a_body():  # before newcomers take the threads
            self._dispatch(self._parked.popleft())
        for key, _events in ready:
            if key.fileobj is self._listener:
                self._accept()
            elif key.fileobj is self._wake_reader:
                self._drain_wakeups()
            elif self._waiting.get(key.fd) is key.data:  # not dropped earlier in this batch
                self._advance(key.data)
        now = time.monotonic()
        if now >= self._next_expiry:
            self._next_expiry = now + EXPIRY_INTERVAL
            self._expire(now)

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except OSError:
            pass
        while self._returned:
            self._take_back(self._returned.popleft())

    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.server.error_log(f"accept failed: {exc}", level=logging.WARNING)
                return
            sock.setblocking(False)
            if not self._acquire():
                if self.server.ssl_adapter is None:
                    _send_quietly(
                        sock, _response("503 Service Unavailable", "Too many connections.")
                    )
                sock.close()
                continue
            waiting = _Waiting(sock, address, time.monotonic() + self.limits.header_timeout)
            if self.server.ssl_adapter is not None:
                try:
                    waiting.sock = self.server.ssl_adapter.context.wrap_socket(
                        sock, server_side=True, do_handshake_on_connect=False
                    )
                except OSError:
                    sock.close()
                    self.release()
                    continue
            else:
                waiting.conn = self._connection(sock, address, {})
            self._watch(waiting)

    def _connection(self, sock: Any, address: Any, ssl_env: dict[str, Any]) -> GatedConnection:
        conn = GatedConnection(self.server, sock, self)
        if isinstance(address, tuple) and len(address) >= 2:
            conn.remote_addr, conn.remote_port = address[0], address[1]
        conn.ssl_env = ssl_env
        return conn

    def _watch(self, waiting: _Waiting) -> None:
        waiting.fd = waiting.sock.fileno()
        self._waiting[waiting.fd] = waiting
        self._selector.register(waiting.sock, waiting.events, waiting)

    def _take_back(self, conn: GatedConnection) -> None:
        """A kept-alive connection: bytes already read belong to its next request."""
        if not self.server.ready:
            conn.close()
            return
        conn.pending[:0] = conn.rfile.take_buffered()
        conn.socket.setblocking(False)
        now = time.monotonic()
        idle = not conn.pending
        timeout = self.limits.idle_timeout if idle else self.limits.header_timeout
        waiting = _Waiting(conn.socket, None, now + timeout, conn=conn, idle=idle)
        self._watch(waiting)
        self._advance(waiting)

    def _advance(self, waiting: _Waiting) -> None:
        if waiting.lingering:
            self._discard_input(waiting)
        elif waiting.conn is None:
            self._handshake(waiting)
        else:
            self._read(waiting)

    def _set_events(self, waiting: _Waiting, events: int) -> None:
        if waiting.events != events:
            waiting.events = events
            self._selector.modify(waiting.sock, events, waiting)

    def _handshake(self, waiting: _Waiting) -> None:
        try:
            waiting.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._set_events(waiting, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._set_events(waiting, selectors.EVENT_WRITE)
            return
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():
                self._refuse(
                    waiting, "400 Bad Request", self._refusal_text("plain_http"), plain=True
                )
            else:
                self._drop(waiting)
            return
        except OSError:
            self._drop(waiting)
            return
        self._set_events(waiting, selectors.EVENT_READ)
        ssl_env = self.server.ssl_adapter.get_environ(waiting.sock)
        waiting.conn = self._connection(waiting.sock, waiting.address, ssl_env)
        self._read(waiting)

    def _read(self, waiting: _Waiting) -> None:
        """Read what has arrived (without blocking), then hand over or refuse if due."""
        assert waiting.conn is not None
        pending = waiting.conn.pending
        if waiting.body_until is None:
            room = self.limits.max_header_bytes + 1 - len(pending)
        else:
            room = waiting.body_until - len(pending)
        ended = False
        while room > 0:
            try:
                data = waiting.sock.recv(min(room, RECV_SIZE))
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                ended = True
                break
            except OSError:
                self._drop(waiting)
                return
            if not data:
                ended = True
                break
            if waiting.idle:
                waiting.idle = False
                waiting.deadline = time.monotonic() + self.limits.header_timeout
            pending += data
            room -= len(data)
        self._judge(waiting, pending, ended)

    def _judge(self, waiting: _Waiting, pending: bytearray, ended: bool) -> None:
        if waiting.body_until is not None:
            self._judge_body(waiting, pending, ended)
            return
        end = head_end(pending, waiting.scanned)
        if end is None:
            waiting.scanned = max(len(pending) - 2, 0)
            if len(pending) > self.limits.max_header_bytes:
                if b"\n" in pending:
                    self._refuse(waiting, TOO_LARGE, self._refusal_text("too_big"))
                else:
                    self._refuse(waiting, "414 URI Too Long", self._refusal_text("too_long_line"))
            elif ended:
                self._drop(waiting)
            return
        if end > self.limits.max_header_bytes:
            self._refuse(waiting, TOO_LARGE, self._refusal_text("too_big"))
        elif header_field_count(pending[:end]) > self.limits.max_header_fields:
            self._refuse(waiting, TOO_LARGE, self._refusal_text("too_many"))
        elif (problem := head_problem(pending[:end])) is not None:
            status, message = problem
            self._refuse(waiting, status, json.dumps({"error": message}), JSON)
        else:
            self._await_body(waiting, pending, end, ended)

    def _await_body(self, waiting: _Waiting, pending: bytearray, end: int, ended: bool) -> None:
        """Hand over at once without a body, or with a large one while a thread is free for
        it; else wait for the first BODY_PRELOAD bytes of the body (all of a small one) and
        then for a thread, so that under load a client trickling its body costs a socket, not
        a thread. A small body is always awaited whole: most clients send it apart from the
        head (Python's http.client does above 2,000 bytes, and any client's body may come in a
        later packet), and one that has arrived is stored by the fast door in one transaction."""
        assert waiting.conn is not None
        waiting.conn.body_clock.restart()
        length, expects_continue = body_start(pending[:end])
        small = length is not None and length <= BODY_PRELOAD
        if length == 0 or (not small and self._thread_for_a_body()):
            self._hand_over(waiting)
            return
        waiting.head_end = end
        waiting.chunked = length is None
        waiting.body_until = end + (BODY_PRELOAD if length is None else min(length, BODY_PRELOAD))
        waiting.clock_at, waiting.counted = time.monotonic(), end
        if expects_continue and len(pending) == end:
            _send_quietly(waiting.sock, CONTINUE)
        self._judge_body(waiting, pending, ended)

    def _judge_body(self, waiting: _Waiting, pending: bytearray, ended: bool) -> None:
        """Charge the body clock; hand over when the awaited part arrived, else set the
        deadline to when the clock runs out."""
        assert waiting.conn is not None and waiting.body_until is not None
        now = time.monotonic()
        clock = waiting.conn.body_clock
        clock.account(now - waiting.clock_at, len(pending) - waiting.counted)
        waiting.clock_at, waiting.counted = now, len(pending)
        last_chunk = (
            waiting.chunked
            and len(pending) - waiting.head_end >= SHORTEST_CHUNKED
            and pending.endswith(CHUNKED_END)
        )
        if not (ended or last_chunk or len(pending) >= waiting.body_until):
            waiting.deadline = now + max(clock.credit, 0.0)
        elif self._thread_for_a_body():
            self._hand_over(waiting)
        else:
            self._forget(waiting)
            self._parked.append(waiting.conn)

    def _thread_for_a_body(self) -> bool:
        """Whether a request with a body may take a thread: a quarter of them stay for requests
        without one, so downloads and listings are answered while uploads fill the rest. A
        parked request waits unwatched (its client's TCP window fills) and its clock stops."""
        pool = self.server.requests
        return bool(pool.idle - pool.qsize > self._reserved_threads)

    def _refusal_text(self, reason: str) -> str:
        limits = self.limits
        return {
            "too_big": f"The request head is larger than {limits.max_header_bytes} bytes.",
            "too_long_line": f"The request line is longer than {limits.max_header_bytes} bytes.",
            "too_many": f"The request has more than {limits.max_header_fields} header fields.",
            "slow": f"The request head did not arrive within {limits.header_timeout:g} s.",
            "plain_http": "This server speaks only HTTPS on this port.",
        }[reason]

    def _hand_over(self, waiting: _Waiting) -> None:
        self._forget(waiting)
        assert waiting.conn is not None
        self._dispatch(waiting.conn)

    def _dispatch(self, conn: GatedConnection) -> None:
        conn.last_used = time.time()
        conn.body_clock.restart()
        conn.socket.settimeout(self.server.timeout)
        self.server.process_conn(conn)

    def _refuse(
        self,
        waiting: _Waiting,
        status: str,
        message: str,
        content_type: str = PLAIN,
        *,
        plain: bool = False,
    ) -> None:
        """Answer ``status`` and drain the input for a moment before closing.

        ``plain``: in clear text on a TLS socket whose handshake met a plain HTTP request.
        """
        _send_quietly(waiting.sock, _response(status, message, content_type), plain=plain)
        try:
            waiting.sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            self._drop(waiting)
            return
        if waiting.conn is not None:
            waiting.conn.pending.clear()
        waiting.lingering = True
        waiting.deadline = time.monotonic() + LINGER_SECONDS
        self._set_events(waiting, selectors.EVENT_READ)
        self._discard_input(waiting)

    def _discard_input(self, waiting: _Waiting) -> None:
        for _ in range(64):
            try:
                if not waiting.sock.recv(RECV_SIZE):
                    break
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                return
            except (OSError, ValueError):
                break
        self._drop(waiting)

    def _expire(self, now: float) -> None:
        for waiting in [w for w in self._waiting.values() if w.deadline <= now]:
            conn = waiting.conn
            if conn is not None and waiting.body_until is not None and not waiting.lingering:
                self._refuse(waiting, "408 Request Timeout", str(conn.body_clock.expire()))
            elif conn is not None and conn.pending and not waiting.lingering:
                self._refuse(waiting, "408 Request Timeout", self._refusal_text("slow"))
            else:
                self._drop(waiting)

    def _forget(self, waiting: _Waiting) -> None:
        del self._waiting[waiting.fd]
        self._selector.unregister(waiting.sock)

    def _drop(self, waiting: _Waiting) -> None:
        self._forget(waiting)
        if waiting.conn is not None:
            waiting.conn.close()
        else:
            waiting.sock.close()
            self.release()


class GatedServer(Server):
    """cheroot's WSGI server with ``HeadGate`` in place of its connection manager; the app
    answers 408 for bodies that came too slowly."""

    def __init__(
        self, bind_addr: Any, app: Any, *args: Any, limits: ConnectionLimits, **kwargs: Any
    ) -> None:
        super().__init__(bind_addr, SlowBodyAnswer(app), *args, **kwargs)
        self.gateway = ClockGateway
        self.limits = limits

    def prepare(self) -> None:
        super().prepare()
        cheroot_manager = self._connections
        self._connections = HeadGate(self, self.limits)
        cheroot_manager.close()


def raise_descriptor_limit(limits: ConnectionLimits, threads: int) -> None:
    """Raise the soft limit on open files so ``max_connections`` sockets fit (up to the hard one).

    Raises ConfigError when even the hard limit is too low.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = limits.max_connections + 4 * threads + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise ConfigError(
                f"davfiles.max_connections {limits.max_connections} needs {needed} open files, "
                f"but the hard limit is {hard} (lower max_connections or raise ulimit -Hn)"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))

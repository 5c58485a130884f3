"""HTTP plumbing: a threaded HTTP/1.1 server whose handlers answer through an `Exchange`.

The provider modules never touch sockets; they call `Exchange` to send JSON, start a chunked
stream, write chunks, pause between tokens (noticing a client that hung up) or drop the connection.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .scripting import ScriptedResponse

_POLL = 0.05  # how often a pause re-checks whether the emulator was reset or stopped


def compact_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Serves every connection on a daemon thread and can sever all open connections on stop."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Callable[[Exchange], None]) -> None:
        super().__init__(address, _Handler)
        self.dispatch = dispatch
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, conn: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(conn)

    def sever_all(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer

    # Send each small write (headers, one SSE frame) at once, as real servers do; with Nagle on, a frame can
    # sit for the client's 40 ms delayed ACK and distort latency figures.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def _serve(self) -> None:
        exchange = Exchange(self)
        try:
            self.server.dispatch(exchange)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            if not exchange.headers_sent:
                exchange.respond(500, b"emulator error, see stderr", "text/plain")
            else:
                exchange.drop()

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log; tests read `Emulator.requests` instead."""


class Exchange:
    """One request and the means to answer it."""

    def __init__(self, handler: _Handler) -> None:
        self._h = handler
        url = urlsplit(handler.path)
        self.method: str = handler.command
        self.path: str = url.path
        self.query: dict[str, str] = dict(parse_qsl(url.query, keep_blank_values=True))
        self.headers: dict[str, str] = {k.lower(): v for k, v in handler.headers.items()}
        self.raw_body: bytes = self._read_body()
        self.body: Any = _parse_body(self.raw_body)
        self.provider = ""
        self.headers_sent = False
        self.alive = True
        # Set by the emulator: called once when the client goes away mid-answer; polled during pauses.
        self.on_disconnect: Callable[[Exchange], None] = lambda ex: None
        self.cancelled: Callable[[], bool] = lambda: False

    def _read_body(self) -> bytes:
        rfile = self._h.rfile
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts = []
            while size := int(rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(rfile.read(size))
                rfile.readline()
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        length = int(self.headers.get("content-length") or 0)
        return rfile.read(length) if length else b""

    # -- whole responses ---------------------------------------------------------------------------

    def respond(
        self, status: int, body: bytes, content_type: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send a complete response with Content-Length (no body on HEAD)."""
        merged = {"Content-Type": content_type} if content_type else {}
        merged.update(headers or {})
        merged["Content-Length"] = str(len(body))
        if not self._send_head(status, merged):
            return
        if self.method != "HEAD":
            self._send(body)

    def respond_json(
        self,
        status: int,
        obj: Any,
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "application/json",
        indent: int | None = None,
    ) -> None:
        text = json.dumps(obj, indent=indent, ensure_ascii=False) if indent else compact_json(obj)
        self.respond(status, text.encode(), content_type, headers)

    def respond_scripted(self, scripted: ScriptedResponse) -> None:
        """Send a canned response exactly as scripted, after its delay."""
        if scripted.delay and not self.pause(scripted.delay):
            return
        body = scripted.body
        if body is None:
            data, content_type = b"", None
        elif isinstance(body, (dict, list)):
            data, content_type = compact_json(body).encode(), "application/json"
        else:
            data = body.encode() if isinstance(body, str) else bytes(body)
            markup = data.lstrip().startswith(b"<")
            content_type = "text/html; charset=UTF-8" if markup else "text/plain; charset=utf-8"
        if any(name.lower() == "content-type" for name in scripted.headers):
            content_type = None
        self.respond(scripted.status, data, content_type, scripted.headers)

    # -- streams -------------------------------------------------------------------------------------

    def start_stream(self, status: int, content_type: str, headers: Mapping[str, str] | None = None) -> bool:
        merged = {"Content-Type": content_type, **(headers or {}), "Transfer-Encoding": "chunked"}
        return self._send_head(status, merged)

    def write(self, data: bytes) -> bool:
        """Write one chunk; False (and a recorded disconnect) if the client is gone."""
        return self._send(b"%X\r\n%s\r\n" % (len(data), data)) if data else self.alive

    def end_stream(self) -> None:
        self._send(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the socket at once, leaving whatever was being sent unfinished."""
        self._h.close_connection = True
        with contextlib.suppress(OSError):
            self._h.connection.shutdown(socket.SHUT_RDWR)

    def pause(self, seconds: float) -> bool:
        """Wait, watching the client socket; False as soon as the client hangs up (or on reset/stop)."""
        deadline = time.monotonic() + seconds
        while self.alive:
            if self.cancelled():
                self.alive = False
                self.drop()
                return False
            remaining = deadline - time.monotonic()
            if self._peer_closed(min(max(remaining, 0.0), _POLL)):
                self._gone()
            elif remaining <= 0:
                return True
        return False

    # -- internals -----------------------------------------------------------------------------------

    def _send_head(self, status: int, headers: Mapping[str, str]) -> bool:
        h = self._h
        h.send_response_only(status)
        h.send_header("Date", h.date_time_string())
        for name, value in headers.items():
            h.send_header(name, value)
        self.headers_sent = True
        try:
            h.end_headers()  # flushes the buffered status line and headers in one write
        except OSError:
            self._gone()
        return self.alive

    def _send(self, data: bytes) -> bool:
        if not self.alive:
            return False
        try:
            self._h.wfile.write(data)
        except OSError:
            self._gone()
        return self.alive

    def _peer_closed(self, timeout: float) -> bool:
        sock = self._h.connection
        try:
            readable, _, _ = select.select([sock], [], [], timeout)
            if not readable:
                return False
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                return True
        except BlockingIOError:
            return False
        except OSError:
            return True
        time.sleep(timeout)  # the client sent more bytes (pipelining); it is still there
        return False

    def _gone(self) -> None:
        if self.alive:
            self.alive = False
            self._h.close_connection = True
            self.on_disconnect(self)


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text

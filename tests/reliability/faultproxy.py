"""A fault-injecting HTTP proxy for S3 tests: sits between a client and a moto server on 127.0.0.1.

Every request is counted; rules decide which ones fail and how:

* ``slowdown``: answer ``503 SlowDown`` (S3's throttling error) without forwarding;
* ``internal``: answer ``500 InternalError`` without forwarding;
* ``drop_request``: read half of the request body, then close the connection without answering;
* ``drop_response``: forward, then send the headers and half of the body, then close the connection.

A rule matches a method and a substring of the path (query included) and fires ``times``
times (``None``: always), on every ``every``-th matching request. Path-style addressing is
assumed (``/bucket/key``), which is what pyarrow and boto3 use with an endpoint override.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
S3_ERRORS = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}


@dataclass
class Rule:
    action: str  # slowdown | internal | drop_request | drop_response
    method: str | None = None  # None: any
    path_contains: str = ""
    times: int | None = 1  # None: no limit
    every: int = 1  # fire on every n-th matching request (1: each one)
    fired: int = 0
    matched: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if not ((self.method is None or self.method == method) and self.path_contains in path):
            return False
        self.matched += 1
        return self.matched % self.every == 0


@dataclass
class Seen:
    method: str
    path: str
    outcome: str  # "forwarded <status>" or the fault's action
    at: float


@dataclass
class FaultProxy:
    upstream: str  # http://host:port of the real (moto) server
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        proxy = self
        up = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _read_chunked(self, limit: int | None = None) -> bytes:
                """The raw chunked body (framing kept, to forward as it came); stops early after ``limit`` bytes."""
                raw = bytearray()
                while True:
                    line = self.rfile.readline()
                    raw += line
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if limit is not None and len(raw) + size > limit:
                        raw += self.rfile.read(max(0, limit - len(raw)))
                        return bytes(raw)
                    if size == 0:
                        while True:  # trailers (aws-chunked puts its checksum here), then an empty line
                            trailer = self.rfile.readline()
                            raw += trailer
                            if trailer in (b"\r\n", b"\n", b""):
                                return bytes(raw)
                    raw += self.rfile.read(size + 2)

            def _any(self) -> None:
                chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
                length = int(self.headers.get("Content-Length") or 0)
                rule = proxy._take(self.command, self.path)
                if rule is not None and rule.action == "drop_request":
                    if chunked:
                        self._read_chunked(limit=int(self.headers.get("x-amz-decoded-content-length") or 2) // 2)
                    else:
                        self.rfile.read(length // 2)
                    proxy._log(self.command, self.path, "drop_request")
                    self._abort()
                    return
                body = self._read_chunked() if chunked else (self.rfile.read(length) if length else b"")
                if rule is not None and rule.action in S3_ERRORS:
                    status, code, message = S3_ERRORS[rule.action]
                    xml = (
                        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
                        f"<RequestId>fault-{len(proxy.seen)}</RequestId></Error>"
                    ).encode()
                    proxy._log(self.command, self.path, rule.action)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(xml)))
                    self.end_headers()
                    if self.command != "HEAD":  # a HEAD answer never has a body, error or not
                        self.wfile.write(xml)
                    return
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        conn.putheader(k, v)
                if chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                if body:
                    conn.send(body)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                dropping = rule is not None and rule.action == "drop_response" and len(data) > 1
                proxy._log(self.command, self.path, "drop_response" if dropping else f"forwarded {resp.status}")
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                # a HEAD answer has no body but tells the object's size
                self.send_header(
                    "Content-Length",
                    resp.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)),
                )
                self.end_headers()
                if dropping:
                    self.wfile.write(data[: len(data) // 2])
                    self._abort()
                    return
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _abort(self) -> None:
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- control ---------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *rules: Rule) -> None:
        with self._lock:
            self.rules.extend(rules)

    def reset(self) -> None:
        with self._lock:
            self.rules.clear()
            self.seen.clear()

    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.fired += 1
                    return rule
        return None

    def _log(self, method: str, path: str, outcome: str) -> None:
        with self._lock:
            self.seen.append(Seen(method, path, outcome, time.monotonic()))

    # -- what happened ---------------------------------------------------------
    def requests(self, method: str | None = None, path_contains: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if (method is None or s.method == method) and path_contains in s.path]

    def faults(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if not s.outcome.startswith("forwarded")]

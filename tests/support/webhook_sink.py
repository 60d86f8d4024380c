"""A local webhook receiver for tests: records POSTed bodies, can answer 500, 429 or hang."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.support.serving import serving

Mode = Literal["ok", "error", "rate_limited", "hang"]


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookSink:
    """What the server does (``mode``) and what it received (``deliveries``)."""

    mode: Mode = "ok"
    status: int = 500  # for mode "error"
    retry_after: str = "7"  # for mode "rate_limited"
    hang_seconds: float = 5.0  # for mode "hang": at most this long, released on stop
    deliveries: list[Delivery] = field(default_factory=list)
    base_url: str = ""  # http://127.0.0.1:PORT
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def hostport(self) -> str:
        return self.base_url.removeprefix("http://")


def _handler(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the hanging case): nothing to answer

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            delivery = Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with sink.lock:
                sink.deliveries.append(delivery)
                mode = sink.mode
            if mode == "hang":
                sink.release.wait(sink.hang_seconds)
                self._answer(200)
            elif mode == "error":
                self._answer(sink.status)
            elif mode == "rate_limited":
                self._answer(429, {"Retry-After": sink.retry_after})
            else:
                self._answer(200)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up mid-answer is expected in the timeout tests


@contextmanager
def running_webhook_sink() -> Iterator[WebhookSink]:
    """Start the sink on an ephemeral port of 127.0.0.1; stop it (bounded) on exit."""
    sink = WebhookSink()
    server = _QuietServer(("127.0.0.1", 0), _handler(sink))
    with serving(server, before_stop=sink.release.set) as base_url:
        sink.base_url = base_url
        yield sink

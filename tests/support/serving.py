"""Run a local HTTP server for a test: a daemon thread, a bounded stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import HTTPServer


@contextmanager
def serving(server: HTTPServer, *, before_stop: Callable[[], None] | None = None) -> Iterator[str]:
    """Serve until the block ends; yield the base URL (http://127.0.0.1:PORT).

    `before_stop` runs first, to release handlers that are holding requests on purpose.
    """
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if before_stop is not None:
            before_stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

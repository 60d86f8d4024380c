"""Real processes for end-to-end and fault tests: Celery worker and beat, a private Redis, a
private PostgreSQL cluster, a feed server that can hold requests, and bounded waits.

Every process is started in its own session (``start_new_session=True``), so a SIGKILL of the
process group takes the Celery main process and all its pool children at once, as the kernel's
OOM killer or a container runtime would. Every wait is bounded in time.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import psycopg

from tests.support.serving import serving

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# -- waiting --------------------------------------------------------------------------------


def wait_for(
    condition: Callable[[], bool], seconds: float, what: str, *, interval: float = 0.25
) -> None:
    """Poll ``condition`` until it holds; fail after ``seconds`` naming ``what``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    if condition():
        return
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def free_port() -> int:
    """A port that was free a moment ago (for servers that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- Celery processes -------------------------------------------------------------------------


@dataclass
class CeleryProcess:
    """One `celery worker` or `celery beat` process group and its log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: list[float] = field(default_factory=list)  # wall-clock times of SIGKILLs

    def start(self) -> CeleryProcess:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        with self.log.open("ab") as handle:  # the child keeps its own descriptor
            handle.write(f"\n===== start #{self.starts} of {self.name} =====\n".encode())
            handle.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "worker.celery_app", *self.args],
                env=self.env,
                cwd=ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and every pool child)."""
        assert self.proc is not None
        self.kills.append(time.time())
        self.signal_group(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reap_group()

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), bounded; SIGKILL if it does not finish in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal_group(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            with suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._reap_group()

    def _reap_group(self) -> None:
        """Pool children left behind by a dead main process are killed too (bounded)."""
        assert self.proc is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def wait_ready(self, seconds: float = 60) -> None:
        """Until this start of a worker logged "ready." (it consumes from then on)."""
        wait_for(
            lambda: self.log_text().count(" ready.") >= self.starts, seconds, f"{self.name} ready"
        )

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""


def celery_worker(
    env: dict[str, str], folder: Path, name: str = "w1", concurrency: int = 2
) -> CeleryProcess:
    args = [
        "worker",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        f"--hostname={name}@%h",
    ]
    return CeleryProcess(name, args, env, folder / f"{name}.log")


def celery_beat(env: dict[str, str], folder: Path, name: str = "beat") -> CeleryProcess:
    args = ["beat", "--loglevel=INFO", f"--schedule={folder / (name + '-schedule')}"]
    return CeleryProcess(name, args, env, folder / f"{name}.log")


@contextmanager
def running(*procs: CeleryProcess) -> Iterator[tuple[CeleryProcess, ...]]:
    """Start the processes; stop every one of them on the way out, whatever happened."""
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in reversed(procs):
            p.stop()


@contextmanager
def stopping(*procs: CeleryProcess) -> Iterator[tuple[CeleryProcess, ...]]:
    """Stop every one of the processes on the way out (they are started by the caller)."""
    try:
        yield procs
    finally:
        for p in reversed(procs):
            p.stop()


def coopwatch_env(**values: str) -> dict[str, str]:
    """The environment of a coopwatch process: this one's, minus COOPWATCH_*, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPWATCH_")}
    env.update({f"COOPWATCH_{k.upper()}": v for k, v in values.items()})
    return env


# -- a private Redis --------------------------------------------------------------------------


class PrivateRedis:
    """`redis-server` without persistence on a free port, in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None, "redis-server is not installed"
        with self.log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [
                    exe,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.folder),
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.ping, 30, f"redis-server on port {self.port}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: every queued and unacknowledged message is gone (no persistence)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def command(self, *words: str) -> bytes:
        """One inline command; the raw reply (enough for LLEN and DBSIZE)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall((" ".join(words) + "\r\n").encode())
            return sock.recv(4096)


@contextmanager
def private_redis(folder: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- a private PostgreSQL cluster --------------------------------------------------------------


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster (initdb, trust auth) on a free port.

    PostgreSQL refuses to run as root, so as root every command runs as the `postgres` user
    (``runuser``) in a temporary folder that user owns.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="coopwatch-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)

    @staticmethod
    def available() -> str | None:
        """None if a private cluster can be made here, else why not."""
        if not (PG_BIN / "initdb").exists():
            return f"{PG_BIN}/initdb not found"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no `postgres` user"
            if shutil.which("runuser") is None:
                return "running as root and `runuser` is not installed"
        return None

    def _run(self, *args: str) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120, cwd=self.folder)

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def cleanup(self) -> None:
        if self.running:
            with suppress(subprocess.SubprocessError):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


# -- a feed server that can hold requests -----------------------------------------------------


@dataclass
class Fetch:
    path: str
    started: float
    ended: float | None = None


@dataclass
class GatedFeedSite:
    """Serves bytes by path with ETags; while ``gate`` is clear, every GET waits for it
    (bounded by ``hold_seconds``), so a test knows a poll is in flight. Records every fetch
    with its start and end, to show whether two polls of one feed ever overlapped."""

    pages: dict[str, bytes] = field(default_factory=dict)
    fetches: list[Fetch] = field(default_factory=list)
    base_url: str = ""
    hold_seconds: float = 60.0
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    def put(self, path: str, body: bytes) -> str:
        with self.lock:
            self.pages[path] = body
        return self.base_url + path

    def url(self, path: str) -> str:
        return self.base_url + path

    def in_flight(self) -> int:
        with self.lock:
            return sum(1 for f in self.fetches if f.ended is None)

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for f in self.fetches if f.path == path)

    def overlapping(self) -> list[tuple[Fetch, Fetch]]:
        """Pairs of fetches of the same path that were in flight at the same time."""
        with self.lock:
            done = [f for f in self.fetches if f.ended is not None]
        pairs = []
        for i, a in enumerate(done):
            for b in done[i + 1 :]:
                assert a.ended is not None and b.ended is not None
                if a.path == b.path and a.started < b.ended and b.started < a.ended:
                    pairs.append((a, b))
        return pairs


def _gated_handler(site: GatedFeedSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            fetch = Fetch(self.path, time.time())
            with site.lock:
                site.fetches.append(fetch)
            try:
                site.gate.wait(site.hold_seconds)
                self._answer()
            except OSError:
                pass  # the poller was killed while we held it
            finally:
                fetch.ended = time.time()

        def _answer(self) -> None:
            with site.lock:
                body = site.pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextmanager
def gated_feed_server() -> Iterator[GatedFeedSite]:
    site = GatedFeedSite()
    server = _QuietServer(("127.0.0.1", 0), _gated_handler(site))
    with serving(server, before_stop=site.gate.set) as base_url:
        site.base_url = base_url
        yield site


# -- feeds whose every item matches, each with a marker the receivers can attribute ------------

MARKER_RE = re.compile(r"CWK-[a-z0-9]+-\d{4}")

IR_RS_TEXT = (
    "Iran's Minister of Communications and Serbia's Minister of Information signed a "
    "memorandum of understanding in Belgrade on cooperation in information technology and "
    "cybersecurity."
)


def marker(feed: str, n: int) -> str:
    return f"CWK-{feed}-{n:04d}"


def matching_feed(feed: str, count: int, *, start: int = 0) -> tuple[bytes, list[str]]:
    """An RSS 2.0 feed of `count` Iran–Serbia cooperation items; (body, their markers)."""
    markers = [marker(feed, n) for n in range(start, start + count)]
    items = "".join(
        f'<item><guid isPermaLink="false">{m}</guid>'
        f"<title>Iran and Serbia sign memorandum on information technology {m}</title>"
        f"<link>https://news.example/{m}</link>"
        f"<description>{escape(IR_RS_TEXT)}</description>"
        "<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>"
        for m in markers
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://news.example/</link><language>en</language>"
        f"<description>test</description>{items}</channel></rss>"
    ).encode()
    return body, markers


def markers_in(text: str) -> set[str]:
    return set(MARKER_RE.findall(text))

"""A local SMTP server for tests (aiosmtpd): plain SMTP with AUTH, records or refuses mail.

The server runs on its own asyncio loop in a thread and listens on an ephemeral port of
127.0.0.1 (``loop.create_server(..., port=0)``, so there is no port race).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        """The decoded body of the first part with this content type ("" when absent)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content())  # type: ignore[attr-defined]
        return ""


@dataclass
class SmtpSink:
    port: int = 0
    refuse_recipients: bool = False  # answer RCPT TO with 550
    received: list[ReceivedMail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.sink.refuse_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        with self.sink.lock:
            self.sink.received.append(mail)
        return "250 Message accepted for delivery"


def _authenticator(sink: SmtpSink) -> Any:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            with sink.lock:
                sink.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    return authenticate


@contextmanager
def running_smtp_sink(*, refuse_recipients: bool = False) -> Iterator[SmtpSink]:
    sink = SmtpSink(refuse_recipients=refuse_recipients)
    handler = _Handler(sink)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname="sink.test",
            authenticator=_authenticator(sink),
            auth_require_tls=False,  # plain SMTP on loopback, as the tests use
        )

    create = loop.create_server(protocol, host="127.0.0.1", port=0)
    server = asyncio.run_coroutine_threadsafe(create, loop).result(timeout=10)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        asyncio.run_coroutine_threadsafe(server.wait_closed(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

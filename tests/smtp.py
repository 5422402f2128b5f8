"""A real SMTP server for tests (aiosmtpd), on a free port in a thread of its own."""
from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import threading

from aiosmtpd.smtp import SMTP


class Inbox:
    """What the server received: the messages and, for each, its recipients."""

    def __init__(self, refuse: bool = False):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextlib.contextmanager
def smtp_server(refuse: bool = False):
    """Yields (inbox, port)."""
    loop = asyncio.new_event_loop()
    inbox = Inbox(refuse)
    server = loop.run_until_complete(loop.create_server(lambda: SMTP(inbox, loop=loop), "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield inbox, server.sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

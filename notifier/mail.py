"""Sending e-mail: one SMTP session for a batch, STARTTLS or SSL, authentication from the environment.

cluster.yaml `smtp:` gives host, port, sender, `security` (none | starttls | ssl) and `username`;
the password comes from NUGO_SMTP_PASSWORD (conf.env), never from a file in the repository.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from conf.env import read_environment

logger = logging.getLogger(__name__)
TIMEOUT = 30


class MailError(RuntimeError):
    """A message could not be handed to the SMTP server; the text says why in one line."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"SMTP 인증 실패 / authentication failed ({exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "받는 주소 거부 / recipient refused: " + ", ".join(exc.recipients)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP 서버 거부 / server refused: {exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace')[:120]}"
    if isinstance(exc, (ConnectionRefusedError, TimeoutError, OSError)):
        return f"SMTP 서버에 연결할 수 없음 / cannot reach the SMTP server ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"


class Mailer:
    """`with Mailer(cluster) as mail: mail.send(message)`; every failure is a MailError with one clear line."""

    def __init__(self, cluster):
        self.settings = dict(cluster.smtp)
        self.password = read_environment().smtp_password
        self._smtp: smtplib.SMTP | None = None

    @property
    def sender(self) -> str:
        return self.settings["sender"]

    def _connect(self) -> smtplib.SMTP:
        host, port, security = self.settings["host"], int(self.settings["port"]), self.settings.get("security") or "none"
        context = ssl.create_default_context()
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
            if security == "starttls":
                smtp.starttls(context=context)
        if self.settings.get("username"):
            smtp.login(self.settings["username"], self.password or "")
        return smtp

    def send(self, message: EmailMessage) -> None:
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(message)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            self.close()
            raise MailError(_reason(exc)) from None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> "Mailer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

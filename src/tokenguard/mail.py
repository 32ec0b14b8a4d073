"""E-mail to a token's owner: a new token on their account, an expiry coming, a leak found.

``EmailNotifier`` is a pluggy plugin built on the standard library (``smtplib``,
``email``)::

    guard = TokenGuard(..., plugins=[EmailNotifier(
        "smtps://mailer:secret@smtp.example.com", sender="tokens@example.com",
        owner_email=lambda owner: users[owner].email, app_name="Example")])

It writes on ``tokenguard_token_created`` (NIST SP 800-63B asks that a subscriber be
told when an authenticator is bound to their account), ``tokenguard_token_expiring``
(``guard.remind``) and ``tokenguard_token_leaked``. A message names the token (name,
id, hint) and never holds its secret. Sending happens on a thread of its own, so no
request waits for the mail server, and a failure is logged, never raised.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
import threading
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from tokenguard.errors import ValidationError
from tokenguard.hookspecs import hookimpl
from tokenguard.models import TokenInfo

logger = logging.getLogger("tokenguard.mail")
#: scheme -> (default port, how TLS is used)
SCHEMES = {"smtp": (25, "none"), "smtp+starttls": (587, "starttls"), "smtps": (465, "tls")}
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: parsed from ``smtp://``, ``smtp+starttls://`` or ``smtps://``."""

    host: str
    port: int
    tls: str
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """``smtp://host[:port]`` (no TLS: a relay on the same machine or network),
        ``smtp+starttls://[user:pass@]host[:port]`` or ``smtps://[user:pass@]host[:port]``.

        Credentials are sent only over TLS, or to a relay on the loopback interface.
        """
        if not isinstance(url, str):
            raise ValidationError("smtp_url must be a string", field="smtp_url")
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValidationError("smtp_url must be smtp://host, smtp+starttls://host or smtps://host",
                                  field="smtp_url")
        default_port, tls = SCHEMES[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError:
            raise ValidationError("smtp_url has an invalid port", field="smtp_url") from None
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if username is not None and tls == "none" and not _is_loopback(parts.hostname):
            raise ValidationError("credentials go only over TLS: use smtps:// or smtp+starttls://",
                                  field="smtp_url")
        return cls(parts.hostname, port, tls, username, password)

    def __repr__(self) -> str:  # the password never shows
        return f"SmtpServer(host={self.host!r}, port={self.port}, tls={self.tls!r})"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain(value: object, limit: int = 300) -> str:
    """Text for a message: no control, format or bidi characters (as names are kept), bounded."""
    text = "".join(c for c in str(value) if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    return text[:limit]


def _when(value: datetime | None) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


class EmailNotifier:
    """Tells owners by e-mail what happens to their tokens (a tokenguard plugin).

    ``owner_email(owner)`` returns the owner's address, or ``None`` to send nothing.
    ``background=False`` sends on the caller's thread (a cron job, say); by default a
    thread of the notifier's own sends, and :meth:`flush` waits for it.
    """

    def __init__(
        self,
        smtp_url: str,
        *,
        sender: str,
        owner_email: Callable[[str], str | None],
        app_name: str = "tokenguard",
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        background: bool = True,
    ) -> None:
        self.server = SmtpServer.from_url(smtp_url)
        if not isinstance(sender, str) or "@" not in parseaddr(sender)[1] or _plain(sender) != sender:
            raise ValidationError("sender must be an e-mail address", field="sender")
        if not callable(owner_email):
            raise ValidationError("owner_email must be a callable: owner -> address or None",
                                  field="owner_email")
        if not isinstance(app_name, str) or not app_name.strip() or _plain(app_name, 100) != app_name:
            raise ValidationError("app_name must be a short line of text", field="app_name")
        self.sender = sender
        self.owner_email = owner_email
        self.app_name = app_name
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.background = background
        self._queue: deque[EmailMessage | None] = deque()
        self._pending = 0
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EmailNotifier({self.server!r}, sender={self.sender!r})"

    # -- the hooks ------------------------------------------------------------------------

    @hookimpl
    def tokenguard_token_created(self, info: TokenInfo, actor: str | None, remote: str | None) -> None:
        lines = [f"A new API token was created on your {self.app_name} account.", "",
                 *self._describe(info),
                 f"  Permissions: {_plain(', '.join(sorted(info.scopes)) or 'none')}",
                 f"  Expires:     {_when(info.expires_at)}",
                 f"  Created:     {_when(info.created_at)}"]
        if remote:
            lines.append(f"  From:        {_plain(remote, 64)}")
        if actor and actor != info.owner:
            lines.append(f"  By:          {_plain(actor, 255)}")
        lines += ["", "If you did not create it, revoke it now on your token settings page, and "
                      "tell your administrator."]
        self._send(info, f"A new API token was created on your {self.app_name} account", lines)

    @hookimpl
    def tokenguard_token_expiring(self, info: TokenInfo, days_left: int) -> None:
        days = "1 day" if days_left == 1 else f"{days_left} days"
        lines = [f"Your {self.app_name} API token expires in {days}, on {_when(info.expires_at)}.", "",
                 *self._describe(info), "",
                 "Rotate it, or create a new token and replace it wherever it is used, before then."]
        self._send(info, f"Your API token {_plain(info.name, 100)!r} expires in {days}", lines)

    @hookimpl
    def tokenguard_token_leaked(self, info: TokenInfo, source: str, url: str | None) -> None:
        lines = [f"Your {self.app_name} API token was found in public and has been revoked: it no "
                 "longer works.", "", *self._describe(info),
                 f"  Found by:    {_plain(source, 100)}"]
        if url:
            lines.append(f"  Found at:    {_plain(url, 500)}")
        lines += ["", "Create a new token, replace the old one wherever it was used, and remove it "
                      "from where it was found."]
        self._send(info, "Your API token was found leaked and revoked", lines)

    @staticmethod
    def _describe(info: TokenInfo) -> list[str]:
        return [f"  Name:        {_plain(info.name, 100)}", f"  Id:          {info.id}",
                f"  Token:       {info.hint} (its secret is never sent by e-mail)"]

    # -- sending --------------------------------------------------------------------------

    def _send(self, info: TokenInfo, subject: str, lines: list[str]) -> None:
        """Build the message for the owner and send it; nothing raised, whatever happens."""
        try:
            recipient = self.owner_email(info.owner)
            if not recipient:
                return
            if "@" not in parseaddr(recipient)[1] or _plain(recipient) != recipient:
                logger.warning("no e-mail for token %s: the owner's address is not valid", info.id)
                return
            message = EmailMessage()
            message["Subject"] = f"[{self.app_name}] {subject}"
            message["From"] = self.sender
            message["To"] = recipient
            message["Date"] = formatdate(usegmt=True)
            message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2])
            message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
            message.set_content("\n".join(lines) + "\n")
        except Exception as exc:  # the host's owner_email, or a bad value: never the request's problem
            logger.warning("no e-mail for token %s: %s", info.id, type(exc).__name__)
            return
        if self.background:
            self._enqueue(message)
        else:
            self._deliver(message)

    def _deliver(self, message: EmailMessage) -> None:
        server = self.server
        try:
            smtp: smtplib.SMTP
            if server.tls == "tls":
                smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout,
                                        context=self.ssl_context)
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
            with smtp:
                if server.tls == "starttls":
                    smtp.starttls(context=self.ssl_context)
                if server.username is not None:
                    smtp.login(server.username, server.password or "")
                smtp.send_message(message)
        except Exception as exc:  # logged, never raised: the token's lifecycle goes on
            logger.warning("could not send the e-mail %r to %s:%d: %s: %s", message["Subject"],
                           server.host, server.port, type(exc).__name__, _plain(exc, 200))

    def _enqueue(self, message: EmailMessage) -> None:
        with self._ready:
            self._queue.append(message)
            self._pending += 1
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="tokenguard-mail", daemon=True)
                self._worker.start()
            self._ready.notify_all()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                message = self._queue.popleft()
            if message is None:
                return
            try:
                self._deliver(message)
            finally:
                with self._ready:
                    self._pending -= 1
                    self._ready.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message handed over so far was sent (or failed); ``False`` on timeout."""
        with self._ready:
            return self._ready.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Send what is queued, then stop the sending thread."""
        with self._ready:
            worker = self._worker
            if worker is None:
                return
            self._queue.append(None)
            self._ready.notify_all()
        worker.join()
        self._worker = None

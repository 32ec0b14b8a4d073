"""EmailNotifier against a real SMTP server (aiosmtpd) on 127.0.0.1: what is sent, and never."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from _testclock import ManualClock
from tokenguard import TokenGuard, ValidationError
from tokenguard.mail import EmailNotifier, SmtpServer

KEY = "mail-suite-secret-key-0123456789abcdef-xyz"
ADDRESSES = {"alice": "alice@example.org", "bob": None}
FLUSH = 60.0  # a bound against a hung server, never reached when it answers


class Inbox:
    """What the server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


def make_notifier(port: int, **options: Any) -> EmailNotifier:
    return EmailNotifier(f"smtp://127.0.0.1:{port}", sender="Tokens <tokens@example.com>",
                         owner_email=ADDRESSES.get, app_name="Example", **options)


def make_guard(notifier: EmailNotifier) -> TokenGuard:
    return TokenGuard("memory://", secret_key=KEY, plugins=[notifier], load_entry_points=False,
                      clock=ManualClock())


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_new_token_is_announced_to_its_owner_without_its_secret(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    notifier = make_notifier(port)
    guard = make_guard(notifier)

    issued = guard.create_token("alice", "deploy key", scopes=["write"], remote="203.0.113.9",
                                actor="admin-carol")
    assert notifier.flush(FLUSH)

    [message] = box.messages
    assert message["To"] == "alice@example.org"
    assert message["From"] == "Tokens <tokens@example.com>"
    assert message["Subject"] == "[Example] A new API token was created on your Example account"
    assert message["Auto-Submitted"] == "auto-generated"
    text = text_of(message)
    for expected in ("deploy key", issued.info.id, issued.info.hint, "Permissions: write", "203.0.113.9",
                     "admin-carol", "revoke it now"):
        assert expected in text
    body = issued.token[len("tg_"):]
    assert issued.token.encode() not in box.raw[0] and body.encode() not in box.raw[0]
    notifier.close()


def test_an_owner_without_an_address_gets_nothing(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    notifier = make_notifier(port)
    make_guard(notifier).create_token("bob", "no mail")
    assert notifier.flush(FLUSH)
    assert box.messages == []


def test_expiry_reminders_and_leaks_are_mailed(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    notifier = make_notifier(port, background=False)  # sent on the caller's thread
    guard = make_guard(notifier)
    issued = guard.create_token("alice", "ci", expires_in=timedelta(days=6, hours=1))
    box.messages.clear()

    assert guard.remind() == 1
    [reminder] = box.messages
    assert reminder["Subject"] == "[Example] Your API token 'ci' expires in 7 days"
    assert "expires in 7 days" in text_of(reminder) and issued.info.hint in text_of(reminder)

    assert guard.revoke_leaked(issued.token, source="github", url="https://example.net/leak") is not None
    leak = box.messages[-1]
    assert leak["Subject"] == "[Example] Your API token was found leaked and revoked"
    assert "github" in text_of(leak) and "https://example.net/leak" in text_of(leak)
    assert all(issued.token.encode() not in raw for raw in box.raw)
    assert guard.get_token(issued.info.id).status == "revoked"


def test_a_send_failure_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    notifier = make_notifier(free_port(), background=False)  # nothing listens there
    guard = make_guard(notifier)
    with caplog.at_level(logging.WARNING, logger="tokenguard.mail"):
        issued = guard.create_token("alice", "still created")
    assert guard.get_token(issued.info.id).status == "active"
    assert "could not send the e-mail" in caplog.text
    assert issued.token not in caplog.text


def test_a_failing_owner_email_callback_is_logged(caplog: pytest.LogCaptureFixture,
                                                  inbox: tuple[Inbox, int]) -> None:
    def broken(owner: str) -> str:
        raise LookupError(owner)

    notifier = EmailNotifier(f"smtp://127.0.0.1:{inbox[1]}", sender="t@example.com", owner_email=broken)
    with caplog.at_level(logging.WARNING, logger="tokenguard.mail"):
        make_guard(notifier).create_token("alice", "x")
    assert "LookupError" in caplog.text and inbox[0].messages == []


def test_login_with_the_urls_credentials() -> None:
    box = Inbox()
    seen: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)  # loopback only: see SmtpServer.from_url
    controller.start()
    try:
        notifier = EmailNotifier(f"smtp://mailer:p%40ss@127.0.0.1:{controller.port}",
                                 sender="t@example.com", owner_email=ADDRESSES.get, background=False)
        assert "p@ss" not in repr(notifier)
        make_guard(notifier).create_token("alice", "x")
    finally:
        controller.stop()
    assert seen == [("mailer", "p@ss")]
    assert len(box.messages) == 1


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://relay", ("relay", 25, "none")),
    ("smtp+starttls://u:p@mail.example.com", ("mail.example.com", 587, "starttls")),
    ("smtps://u:p@mail.example.com", ("mail.example.com", 465, "tls")),
    ("smtps://mail.example.com:2465", ("mail.example.com", 2465, "tls")),
])
def test_smtp_urls(url: str, expected: tuple[str, int, str]) -> None:
    server = SmtpServer.from_url(url)
    assert (server.host, server.port, server.tls) == expected


@pytest.mark.parametrize("url", ["http://mail", "smtp://", "smtp://u:p@mail.example.com",
                                 "smtps://mail:99999"])
def test_bad_smtp_urls_are_refused_at_construction(url: str) -> None:
    with pytest.raises(ValidationError):
        EmailNotifier(url, sender="t@example.com", owner_email=ADDRESSES.get)


@pytest.mark.parametrize("sender", ["no address", "a@example.com\r\nBcc: x@example.com", ""])
def test_a_bad_sender_is_refused(sender: str) -> None:
    with pytest.raises(ValidationError):
        EmailNotifier("smtp://relay", sender=sender, owner_email=ADDRESSES.get)

"""pytest plugin: a clear token must never reach a log line, an exception message or stderr.

Registered from ``tests/conftest.py``. For the whole session it:

* records every clear token the code issues, by wrapping ``tokenguard.tokens.generate``
  (``create_token`` and ``rotate`` both go through it);
* lowers the ``tokenguard`` logger to DEBUG, so audit events and warnings are
  really formatted, and scans every record that reaches the root logger, or stops
  at a logger that does not propagate (such as uvicorn's): message, arguments,
  formatted traceback and stack;
* scans the message of every ``TokenGuardError`` when it is constructed, whether
  or not a test catches it;
* scans, after each test, the captured **stderr** and the exception that failed the
  test (except pytest's own ``AssertionError``, whose text shows the test's locals).

Captured **stdout** is deliberately not scanned: ``tokenguard token create``
prints the new token alone on stdout by design, so CLI tests see it there. What
the CLI prints on stderr (errors) is scanned.

A leak fails the test that was running (an error at teardown) with a message
that names where the token appeared, showing only the token's display hint.
Servers running in threads log through ``logging`` and are covered; servers in
child processes are not (their own tests read their output).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tokenguard.tokens as tokens_module
from tokenguard.errors import TokenGuardError

# The 38 base62 characters after "prefix_": enough to recognise an issued token anywhere.
_BODY = re.compile(r"_([0-9A-Za-z]{38})")


class LeakDetector:
    """Knows every issued token (by body) and collects where any of them was seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[str, str] = {}
        self._seen: list[str] = []

    def remember(self, token: str) -> None:
        _, _, body = token.partition("_")
        with self._lock:
            self._bodies[body] = token

    @property
    def issued(self) -> int:
        return len(self._bodies)

    def scan(self, text: str, where: str) -> bool:
        """Record and return whether ``text`` contains an issued token."""
        if "_" not in text:
            return False
        for match in _BODY.finditer(text):
            token = self._bodies.get(match.group(1))
            if token is not None:
                with self._lock:
                    self._seen.append(f"{where}: token {tokens_module.hint(token)}")
                return True
        return False

    def drain(self) -> list[str]:
        with self._lock:
            seen, self._seen = self._seen, []
        return seen


class LeakHandler(logging.Handler):
    """Scans every record that reaches it; never filters anything out."""

    def __init__(self, detector: LeakDetector) -> None:
        super().__init__(level=0)
        self.detector = detector

    def emit(self, record: logging.LogRecord) -> None:
        where = f"log record of {record.name!r} ({record.levelname})"
        texts = [str(record.msg)]
        try:
            texts.append(record.getMessage())
        except Exception:  # a broken format string: still scan the raw arguments
            texts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            texts.append("".join(traceback.format_exception(record.exc_info[1])))
        if record.exc_text:
            texts.append(record.exc_text)
        if record.stack_info:
            texts.append(record.stack_info)
        self.detector.scan("\n".join(texts), where)


def exception_texts(exc: BaseException | None) -> Iterator[str]:
    """The message of ``exc`` and of every exception chained to it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield "".join(traceback.format_exception_only(exc))
        exc = exc.__cause__ or exc.__context__


DETECTOR = LeakDetector()
HANDLER = LeakHandler(DETECTOR)
_ORIGINAL_GENERATE: Callable[[str], str] = tokens_module.generate
_saved_level: int = logging.NOTSET


def _recording_generate(prefix: str) -> str:
    token = _ORIGINAL_GENERATE(prefix)
    DETECTOR.remember(token)
    return token


def _checking_init(self: TokenGuardError, *args: Any) -> None:
    Exception.__init__(self, *args)
    DETECTOR.scan(" ".join(str(a) for a in args), f"message of {type(self).__name__}")


_ORIGINAL_CALL_HANDLERS = logging.Logger.callHandlers


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    """Logger.callHandlers, plus the scan for records that never reach the root logger.

    Loggers that do not propagate (uvicorn's, configured in the middle of a test)
    are covered from the moment they exist, whoever configured them.
    """
    _ORIGINAL_CALL_HANDLERS(self, record)
    logger: logging.Logger | None = self
    while logger is not None:
        if not logger.propagate and logger is not logging.root:
            HANDLER.handle(record)
            return
        logger = logger.parent


def pytest_configure(config: pytest.Config) -> None:
    global _saved_level
    tokens_module.generate = _recording_generate
    TokenGuardError.__init__ = _checking_init  # type: ignore[method-assign]
    logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]
    logging.getLogger().addHandler(HANDLER)
    package_logger = logging.getLogger("tokenguard")
    _saved_level = package_logger.level
    package_logger.setLevel(logging.DEBUG)


def pytest_unconfigure(config: pytest.Config) -> None:
    tokens_module.generate = _ORIGINAL_GENERATE
    if "__init__" in TokenGuardError.__dict__:
        del TokenGuardError.__init__
    logging.Logger.callHandlers = _ORIGINAL_CALL_HANDLERS  # type: ignore[method-assign]
    logging.getLogger().removeHandler(HANDLER)
    logging.getLogger("tokenguard").setLevel(_saved_level)


@pytest.fixture(autouse=True)
def _no_token_leaks() -> Iterator[None]:
    """Fails the running test if a token reached a log record or an exception message."""
    DETECTOR.drain()  # anything seen between tests belongs to no test
    yield
    leaks = DETECTOR.drain()
    if leaks:
        pytest.fail("clear token leaked:\n  " + "\n  ".join(sorted(set(leaks))), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    leaks: list[str] = []
    if call.excinfo is not None and not isinstance(call.excinfo.value, AssertionError):
        for text in exception_texts(call.excinfo.value):
            if DETECTOR.scan(text, f"exception that ended the {report.when} phase"):
                leaks.extend(DETECTOR.drain())
                break
    if report.when == "teardown":
        for when, key, content in item._report_sections:
            if key == "stderr" and DETECTOR.scan(content, f"captured stderr ({when})"):
                leaks.extend(DETECTOR.drain())
    if not leaks:
        return
    message = "clear token leaked:\n  " + "\n  ".join(sorted(set(leaks)))
    if report.failed:
        report.sections.append(("token leak", message))
    else:
        report.outcome = "failed"
        report.longrepr = message

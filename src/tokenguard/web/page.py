"""The settings page (HTML) under ``WebOptions.settings_path``."""

from __future__ import annotations

from tokenguard.guard import TokenGuard
from tokenguard.web.gate import Gate
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.options import WebOptions


class SettingsPage:
    def __init__(self, guard: TokenGuard, options: WebOptions, gate: Gate) -> None:
        self.guard = guard
        self.options = options
        self.gate = gate

    def handle(self, request: WebRequest) -> WebResponse:
        return WebResponse(501, [("Content-Type", "text/plain")], b"settings page: not yet")

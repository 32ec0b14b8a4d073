"""What the page tests on Flask and Starlette share: a session sign-in route and a response's text."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse


async def sign_in(request: Request) -> PlainTextResponse:
    """``/login/{user}`` of a Starlette test app: the session's user, as a host's sign-in sets it."""
    request.session["user"] = request.path_params["user"]
    return PlainTextResponse("signed in")


def response_text(adapter: str, response: Any) -> str:
    """The body of a Flask or Starlette test client's response, as text."""
    text: str = response.get_data(as_text=True) if adapter == "flask" else response.text
    return text

"""Set-Cookie values for the web layer's own cookies (the flash message)."""

from __future__ import annotations


def set_cookie(name: str, value: str, *, path: str, max_age: int, secure: bool) -> tuple[str, str]:
    """A ``Set-Cookie`` header: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return ("Set-Cookie", "; ".join(parts))


def clear_cookie(name: str, *, path: str, secure: bool) -> tuple[str, str]:
    return set_cookie(name, "", path=path, max_age=0, secure=secure)

"""tokenguard for ASGI apps (Starlette, FastAPI, any ASGI-3 app): glue only.

::

    from tokenguard_asgi import TokenGuardMiddleware, require_scope

    app.add_middleware(TokenGuardMiddleware, guard=guard,
                       owner_loader=lambda request: request.session.get("user"))

    @require_scope("read")
    async def notes(request):
        return JSONResponse({"owner": request.auth.token.owner})

FastAPI's dependencies live in :mod:`tokenguard_asgi.fastapi`; an app mounted
below the one with the middleware answers refusals with ``refusal_handlers()``.
"""

from tokenguard_asgi.auth import TokenCredentials, TokenPrincipal, TokenUser
from tokenguard_asgi.decorators import require_scope
from tokenguard_asgi.handlers import refusal_handlers
from tokenguard_asgi.middleware import TokenGuardMiddleware

__all__ = [
    "TokenCredentials",
    "TokenGuardMiddleware",
    "TokenPrincipal",
    "TokenUser",
    "refusal_handlers",
    "require_scope",
]

"""tokenguard for ASGI apps (Starlette, FastAPI, any ASGI-3 app): glue only.

::

    from tokenguard_asgi import TokenGuardMiddleware, require_scope

    app.add_middleware(TokenGuardMiddleware, guard=guard,
                       owner_loader=lambda request: request.session.get("user"))

    @require_scope("read")
    async def notes(request):
        return JSONResponse({"owner": request.auth.token.owner})

FastAPI's dependency lives in :mod:`tokenguard_asgi.fastapi`.
"""

from tokenguard_asgi.auth import TokenCredentials, TokenPrincipal, TokenRejected, TokenUser
from tokenguard_asgi.decorators import require_scope
from tokenguard_asgi.middleware import TokenGuardMiddleware

__all__ = [
    "TokenCredentials",
    "TokenGuardMiddleware",
    "TokenPrincipal",
    "TokenRejected",
    "TokenUser",
    "require_scope",
]

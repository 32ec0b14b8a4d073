"""Flask extension of tokenguard: glue between Flask and ``tokenguard.web``.

::

    tokens = FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"))

    @app.get("/notes/<project>")
    @require_scope("write", project_from="project")
    def notes(project):
        return {"owner": current_token.owner}
"""

from tokenguard_flask.cli import tokens_cli
from tokenguard_flask.decorators import current_token, require_scope
from tokenguard_flask.extension import FlaskTokenGuard, TokenGuardState

__all__ = ["FlaskTokenGuard", "TokenGuardState", "current_token", "require_scope", "tokens_cli"]

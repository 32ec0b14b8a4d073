"""Projects from the host: ``WebOptions.projects_loader(owner)`` and the one rule that applies it.

Without a loader, projects are typed freely (any name the core accepts). With one,
the page offers a picker of the owner's projects and the page and the management
API refuse a project outside it (400, ``field="projects"``). No project at all
still means "every project", as it does without a loader. A token keeps the
projects it already has when the host stops offering one: an edit that leaves
them is accepted, an edit that adds one not offered is not.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenguard import validation
from tokenguard.errors import ValidationError
from tokenguard.web.i18n import N_
from tokenguard.web.options import WebOptions

#: the refusal's words: English in the API's JSON, translated on the page (``i18n.message``).
NOT_OFFERED = N_("only the projects offered to you can be chosen")


def offered_projects(options: WebOptions, owner: str) -> list[str] | None:
    """The projects ``owner`` may pick, sorted; ``None`` when the host gives no ``projects_loader``."""
    loader = options.projects_loader
    if loader is None:
        return None
    found = loader(owner)
    if isinstance(found, str | bytes) or not isinstance(found, Iterable):
        raise TypeError(f"projects_loader must return a list of project names, not {found!r}")
    names = list(found)
    if not all(isinstance(name, str) for name in names):
        raise TypeError("projects_loader must return project names as str")
    return sorted(set(names))


def check_projects(options: WebOptions, owner: str, projects: object,
                   kept: Iterable[str] = ()) -> None:
    """Refuses ``projects`` outside what ``owner`` is offered (``kept``: a token's own, still allowed).

    ``projects`` ``None`` (not given) passes; the core checks each name's form first, so a
    malformed name gets the core's message.
    """
    if projects is None:
        return
    offered = offered_projects(options, owner)
    if offered is None:
        return
    wanted = validation.projects(projects)
    if not wanted <= set(offered) | set(kept):
        raise ValidationError(NOT_OFFERED, field="projects")

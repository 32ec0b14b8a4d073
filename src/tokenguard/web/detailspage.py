"""A token's details page, ``{settings_path}/{id}``: ``GET`` shows it, ``POST`` saves the edit form.

The edit changes the name, description, projects and allowed networks (the core
validates each); an error shows the page again (400) with what was sent and the
field's message, a success redirects back to it with a flash (Post/Redirect/Get).
Revoke, re-approve, rotate and delete post to the settings page's own routes, with
``return_to=details`` so that they come back here. Routing, sign-in, CSRF and the
security headers are the settings page's (:class:`tokenguard.web.page.SettingsPage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tokenguard.errors import ValidationError
from tokenguard.guard import DEFAULT, TokenGuard, _Default
from tokenguard.models import TokenInfo
from tokenguard.web import forms, listing, pageview
from tokenguard.web.api import parse_grace
from tokenguard.web.details import EDIT_FIELDS, SAVED, EditForm, edit_form_of, token_details
from tokenguard.web.flash import Flash, FlashCookies
from tokenguard.web.gate import Gate
from tokenguard.web.http import WebRequest, WebResponse
from tokenguard.web.options import WebOptions
from tokenguard.web.policy import TokenPolicy
from tokenguard.web.projects import check_projects, offered_projects
from tokenguard.web.refusals import refusal
from tokenguard.web.render import Renderer

#: the one value of the ``return_to`` field that sends an action back to the details page.
RETURN_TO_DETAILS = "details"
#: how much of each field sent is shown again after an error.
_KEPT_LENGTH = 2000


def details_path(root: str, token_id: str) -> str:
    """The details page of ``token_id`` below the settings page at ``root``."""
    return f"{root}/{token_id}"


def return_path(form: forms.Form, root: str, token_id: str) -> str:
    """Where an action on a token goes back to: its details page when the form says so, else the list.

    The list as the form's ``list_query`` asked for it (sorted, filtered, paged), always below ``root``.
    """
    back = form.get("return_to", [])
    if back == [RETURN_TO_DETAILS]:
        return details_path(root, token_id)
    return list_query_of(form).link(root)


def list_query_of(form: forms.Form) -> listing.ListQuery:
    """The table's view an action form was sent from (the plain list when it says none, or twice)."""
    sent = form.get(listing.LIST_QUERY_FIELD, [])
    return listing.ListQuery.from_text(sent[0]) if len(sent) == 1 else listing.ListQuery()


@dataclass(frozen=True, slots=True)
class RotationChoice:
    """What the rotate form asks of ``guard.rotate``: the grace, and a new expiry if any."""

    grace: timedelta | None
    expires_in: timedelta | _Default | None = DEFAULT
    expires_at: datetime | None = None


def rotation_from_form(form: forms.Form, guard: TokenGuard) -> RotationChoice:
    """The rotate form's choice: the expiry stays unless ``expires`` is sent.

    ``expires`` (regenerate, GitHub's flow) takes the create form's choices, within the
    guard's ``max_lifetime``; a custom date keeps the token valid through that day (UTC).
    """
    grace = parse_grace(forms.form_value(form, "grace") or None)
    if "expires" not in form:
        return RotationChoice(grace)
    expires_in, expires_at = forms.expiry_from_form(form, guard)
    return RotationChoice(grace, expires_in, expires_at)


class DetailsPage:
    """Shows one token of the signed-in owner, and saves the edit of it."""

    def __init__(self, guard: TokenGuard, options: WebOptions, gate: Gate, renderer: Renderer,
                 flashes: FlashCookies) -> None:
        self.guard = guard
        self.options = options
        self.gate = gate
        self.renderer = renderer
        self.flashes = flashes

    def show(self, request: WebRequest, owner: str, form: forms.Form, token_id: str) -> WebResponse:
        """``GET /{id}``: every field of the owner's token, its history and its forms."""
        info = self.gate.owned(token_id, owner)
        flash, clear = self.flashes.take(request, owner)
        return self._render(request, owner, info, edit_form_of(info), flash=flash, headers=clear)

    def edit(self, request: WebRequest, owner: str, form: forms.Form, token_id: str) -> WebResponse:
        """``POST /{id}``: name, description, projects and allowed networks, validated by the core."""
        info = self.gate.owned(token_id, owner)
        try:
            spec = forms.edit_spec_from_form(form)
            check_projects(self.options, owner, spec.projects, kept=info.projects)
            self.guard.update_token(token_id, name=spec.name, description=spec.description,
                                    projects=spec.projects, allowed_networks=spec.allowed_networks,
                                    actor=owner, remote=request.remote)
        except ValidationError as exc:
            return self._render(request, owner, info, self._sent_back(form, exc), status=exc.status_code)
        cookie = self.flashes.set(request, owner, Flash("success", SAVED))
        return WebResponse.redirect(details_path(request.base_url, token_id), [cookie])

    @staticmethod
    def _sent_back(form: forms.Form, exc: ValidationError) -> EditForm:
        """The edit form as it was sent, with the error next to its field."""
        values = {key: "\n".join(form.get(key, []))[:_KEPT_LENGTH]
                  for key in ("name", "description", "allowed_networks")}
        projects = forms.projects_from_form(form)
        values["projects"] = ", ".join(projects)[:_KEPT_LENGTH]
        field = exc.field if exc.field in EDIT_FIELDS else ""
        said = refusal(exc)
        return EditForm(values, projects, {field: said} if field else {}, "" if field else said)

    def _render(self, request: WebRequest, owner: str, info: TokenInfo, form: EditForm, *,
                status: int = 200, flash: Flash | None = None,
                headers: list[tuple[str, str]] | None = None) -> WebResponse:
        now = self.guard.clock()
        context: dict[str, Any] = {
            "root": request.base_url, "app_name": self.options.app_name, "owner": owner,
            "csrf_token": self.gate.csrf.issue(owner), "flash": flash,
            "token": token_details(info, self.guard, now), "form": form,
            "project_choices": offered_projects(self.options, owner),
            "choices": pageview.form_choices(self.guard, now, TokenPolicy(self.guard, self.options), owner),
            "return_to": RETURN_TO_DETAILS,
        }
        return self.renderer.page("details.html", context, status, headers or [], request=request)

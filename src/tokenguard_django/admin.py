"""Django admin: every token listed (never a secret or a digest), revoked or deleted through the guard.

Changes go through ``get_guard()``, never straight to the table, so audit hooks
fire and every verification cache forgets the token at once. Tokens are not
added here: a secret is shown once, where it is created (the settings page,
``manage.py tokenguard token create``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from tokenguard.errors import TokenGuardError, TokenNotFound
from tokenguard.models import TokenInfo
from tokenguard_django.config import load
from tokenguard_django.models import Token
from tokenguard_django.plugin import SCHEME
from tokenguard_django.registry import get_guard

#: what the admin shows of a token: everything but its digests (current and replaced).
SHOWN = ("id", "name", "description", "owner", "hint", "scopes", "projects", "allowed_networks", "admin",
         "created_at", "expires_at", "last_used_at", "last_used_ip", "last_used_agent", "revoked_at",
         "previous_valid_until", "parent_id")


def _actor(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    return f"django-admin:{getattr(user, 'pk', None)}"


def _remote(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


class StatusFilter(admin.SimpleListFilter):
    """Active, revoked or expired, as ``TokenInfo.status`` says (revoked wins over expired)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "active"), ("revoked", "revoked"), ("expired", "expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        now = get_guard().clock()
        expired = Q(expires_at__isnull=False, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(expired, revoked_at__isnull=True)
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expired)
        return None


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "id", "owner", "hint", "scope_list", "project_list", "status", "created_at",
                    "expires_at", "last_used_at")
    list_filter = (StatusFilter, "owner", "admin")
    search_fields = ("name", "id")
    ordering = ("-created_at", "id")
    fields = SHOWN
    readonly_fields = SHOWN
    actions = ("revoke_tokens", "reapprove_tokens")

    # -- what is shown -----------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """The tokens of the database the guard keeps them in (``database_url``)."""
        url = load().guard_config().database_url
        queryset = super().get_queryset(request).defer("digest", "previous_digest")
        if not url.startswith(SCHEME):  # another store: its tokens are not in this database
            return queryset.none()
        return queryset.using(url.removeprefix(SCHEME) or "default")

    @admin.display(description="scopes")
    def scope_list(self, token: Token) -> str:
        return ", ".join(str(token.scopes).split()) or "-"

    @admin.display(description="projects")
    def project_list(self, token: Token) -> str:
        return ", ".join(str(token.projects).split()) or "all"

    @admin.display(description="status")
    def status(self, token: Token) -> str:
        now = get_guard().clock()
        if token.revoked_at is not None:
            return "revoked"
        if token.expires_at is not None and now >= token.expires_at:
            return "expired"
        return "active"

    # -- permissions: read here, change through the guard --------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a secret is shown once, where it is created

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # no form writes a row: the actions below go through the guard

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        has_perm = getattr(request.user, "has_perm", None)
        return callable(has_perm) and bool(has_perm("tokenguard_django.change_token"))

    # -- actions, through the guard ----------------------------------------------------------------

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        done = self._through_guard(request, queryset, "revoke")
        self.message_user(request, f"Revoked {len(done)} token{'s' if len(done) != 1 else ''}.",
                          messages.SUCCESS)

    @admin.action(description="Re-approve the selected tokens (not expired ones)", permissions=["revoke"])
    def reapprove_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        done = self._through_guard(request, queryset, "reapprove")
        self.message_user(request, f"Re-approved {len(done)} token{'s' if len(done) != 1 else ''}.",
                          messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._through_guard(request, [obj.pk], "delete")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._through_guard(request, queryset, "delete")

    def _through_guard(self, request: HttpRequest, tokens: QuerySet[Any] | Iterable[str],
                       action: str) -> list[TokenInfo]:
        """``guard.<action>(id)`` (revoke, reapprove, delete) for each token; a refusal is
        reported, the others still done."""
        act = getattr(get_guard(), action)
        ids = tokens.values_list("pk", flat=True) if isinstance(tokens, QuerySet) else tokens
        done = []
        for token_id in list(ids):
            try:
                done.append(act(str(token_id), actor=_actor(request), remote=_remote(request)))
            except TokenNotFound:
                continue  # deleted meanwhile
            except TokenGuardError as exc:
                self.message_user(request, f"{token_id}: {exc}", messages.WARNING)
        return done

"""A user who signs out, or is deactivated, loses their tokens.

* ``user_logged_out``: every token of the user is revoked (``revoke_on_logout``).
* a user saved with ``is_active=False``: every token is revoked, and where the
  guard can deactivate owners the user stays deactivated, so no token can be
  created or re-approved for them until they are active again
  (``revoke_on_deactivate``).

The owner of a user is ``str(user.pk)``, as on the settings page. The revocation
runs in the same database transaction as the save, when both share a database.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save

from tokenguard_django.config import load
from tokenguard_django.registry import get_guard

ACTOR = "django"


def owner_of(user: Any) -> str | None:
    """The owner id of a user, or ``None`` for an anonymous or unsaved one."""
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)


def revoke_on_logout(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    owner = owner_of(user)
    if owner is None or not load()["revoke_on_logout"]:
        return
    get_guard().revoke_owner(owner, actor=f"{ACTOR}:logout", remote=_remote(request))


def revoke_on_deactivate(sender: Any, instance: Any, created: bool = False,
                         update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and "is_active" not in update_fields:
        return  # e.g. last_login written at sign-in: is_active did not change
    owner = owner_of(instance)
    if owner is None or getattr(instance, "is_active", True) is not False:
        return
    if not load()["revoke_on_deactivate"]:
        return
    guard = get_guard()
    deactivate = getattr(guard, "deactivate_owner", None)
    if callable(deactivate):
        deactivate(owner, actor=f"{ACTOR}:deactivate")
    else:
        guard.revoke_owner(owner, actor=f"{ACTOR}:deactivate")


def reactivate_on_activate(sender: Any, instance: Any, created: bool = False,
                           update_fields: Any = None, **kwargs: Any) -> None:
    """A user made active again may hold tokens again (none is revived)."""
    if created or (update_fields is not None and "is_active" not in update_fields):
        return
    owner = owner_of(instance)
    if owner is None or getattr(instance, "is_active", False) is not True:
        return
    guard = get_guard()
    is_active, reactivate = getattr(guard, "is_owner_active", None), getattr(guard, "reactivate_owner", None)
    if callable(is_active) and callable(reactivate) and not is_active(owner):
        reactivate(owner, actor=f"{ACTOR}:activate")


def _remote(request: Any) -> str | None:
    meta = getattr(request, "META", None)
    return meta.get("REMOTE_ADDR") if isinstance(meta, dict) else None


def connect() -> None:
    user_logged_out.connect(revoke_on_logout, dispatch_uid="tokenguard_django.revoke_on_logout")
    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
    except (LookupError, ValueError):  # no user model installed: nobody to deactivate
        return
    post_save.connect(revoke_on_deactivate, sender=user_model,
                      dispatch_uid="tokenguard_django.revoke_on_deactivate")
    post_save.connect(reactivate_on_activate, sender=user_model,
                      dispatch_uid="tokenguard_django.reactivate_on_activate")

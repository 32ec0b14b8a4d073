"""TokenGuard: the one entry point of the core.

Its parts live in mixins with their own modules: the hot path (``verification``),
the store primitives (``stored_tokens``), minting rules (``minting``), owners
(``owner_activation``), rotation (``rotation``), expiry reminders and stale tokens
(``reminders``), and leak response (``leaks``). This module keeps construction and
the lifecycle of one token: create, update, revoke, re-approve, delete.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tokenguard import tokens, validation
from tokenguard._clock import Clock, utcnow
from tokenguard.cache import BEARER, DEFAULT_SIZE, DEFAULT_TTL, VerificationCache, invalidation_plugin
from tokenguard.defaults import DEFAULT, TOUCH_INTERVAL, _Default
from tokenguard.errors import (
    OwnerInactive,
    TokenGuardError,
    TokenIdConflict,
    TokenLimitExceeded,
    TokenNotFound,
    ValidationError,
)
from tokenguard.leaks import LeakResponse
from tokenguard.limiter import FailedAttemptLimiter, default_limiter
from tokenguard.minting import Minting
from tokenguard.models import IssuedToken, TokenInfo
from tokenguard.plugins import make_plugin_manager
from tokenguard.reminders import ExpiryReminders
from tokenguard.rotation import Rotation
from tokenguard.scopes import ScopeHierarchy
from tokenguard.stores.base import Store, TokenChanges, TokenRecord

__all__ = ["DEFAULT", "TOUCH_INTERVAL", "TokenGuard", "_Default"]


class TokenGuard(Minting, Rotation, ExpiryReminders, LeakResponse):
    """Creates, verifies and manages API tokens on one store.

    Configuration is validated here, once: a bad key, prefix or scope map
    fails at construction with a message that says what to do.

    ``expire_unused_after``: tokens unused for longer (their last use, or their creation
    if never used) are refused as expired (``ExpiredToken``) and their status reads
    ``"expired"``; ``None`` (the default) keeps unused tokens alive. At least a minute.
    """

    def __init__(
        self,
        store: Store | str = "memory://",
        *,
        secret_key: str | bytes | Sequence[str | bytes],
        prefix: str = "tg",
        max_tokens_per_owner: int | None = 10,
        default_lifetime: timedelta | None = timedelta(days=90),
        max_lifetime: timedelta | None = None,
        scopes: Mapping[str, Iterable[str]] | None = None,
        clock: Clock | None = None,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        cache_ttl: timedelta | float | None = timedelta(seconds=DEFAULT_TTL),
        cache_size: int = DEFAULT_SIZE,
        invalidation: str | object | None = None,
        limiter: FailedAttemptLimiter | _Default | None = DEFAULT,
        expire_unused_after: timedelta | None = None,
    ) -> None:
        self.prefix = tokens.validate_prefix(prefix)
        self._token_head_bytes = f"{prefix}_".encode("ascii")
        self._body_start = len(self._token_head_bytes)
        self._token_length = self._body_start + tokens.BODY_LENGTH
        self._bearer_head = BEARER + self._token_head_bytes
        self._bearer_body_start = len(self._bearer_head)
        self._bearer_length = len(BEARER) + self._token_length
        self._hasher = tokens.Hasher(secret_key)
        if max_tokens_per_owner is not None and (
            not isinstance(max_tokens_per_owner, int) or max_tokens_per_owner < 1
        ):
            raise ValidationError("max_tokens_per_owner must be a positive int or None",
                                  field="max_tokens_per_owner")
        self.max_tokens_per_owner = max_tokens_per_owner
        self.default_lifetime = validation.lifetime(default_lifetime, "default_lifetime")
        self.max_lifetime = validation.lifetime(max_lifetime, "max_lifetime")
        if self.max_lifetime and self.default_lifetime and self.default_lifetime > self.max_lifetime:
            raise ValidationError("default_lifetime exceeds max_lifetime", field="default_lifetime")
        self.expire_unused_after = validation.lifetime(expire_unused_after, "expire_unused_after")
        if self.expire_unused_after is not None and self.expire_unused_after < TOUCH_INTERVAL:
            # a warm token is checked against its last use at least this often (the touch)
            raise ValidationError(f"expire_unused_after must be at least {TOUCH_INTERVAL}",
                                  field="expire_unused_after")
        self.scopes = ScopeHierarchy(scopes)
        self.clock: Clock = clock or utcnow
        plugins = tuple(plugins)
        self.plugins = make_plugin_manager(plugins, load_entry_points=load_entry_points)
        self.hook = self.plugins.hook
        #: Failed attempts per client address (on by default; ``limiter=None`` turns it off). One
        #: given among ``plugins`` is the guard's limiter too.
        given = next((p for p in plugins if isinstance(p, FailedAttemptLimiter)), None)
        if isinstance(limiter, _Default):
            limiter = given or default_limiter(invalidation)  # in its Redis, if it has one
        self.limiter = limiter
        self._blocked = limiter.blocked if limiter is not None else {}
        if limiter is not None and limiter is not given:
            self.plugins.register(limiter, name="tokenguard.limiter")
        #: Verified tokens by keyed digest; ``cache_ttl`` also bounds how long another
        #: process's revoke may go unnoticed here without ``invalidation``.
        self.cache = VerificationCache(cache_ttl, cache_size, clock=self._now)
        self.plugins.register(self.cache, name="tokenguard.cache")
        self.invalidation = invalidation_plugin(invalidation)
        if self.invalidation is not None:
            self.plugins.register(self.invalidation, name="tokenguard.invalidation")
        try:
            self.store: Store = self._make_store(store) if isinstance(store, str) else store
        except BaseException:
            self._close_invalidation()  # its subscriber thread would outlive this guard
            raise
        share_expansion = getattr(self.store, "expand_scopes_with", None)
        if share_expansion is not None:  # the store's hot path presents records itself (_present)
            share_expansion(self.scopes.expand)

    def _make_store(self, url: str) -> Store:
        made: Store | None = self.hook.tokenguard_make_store(url=url)
        if made is None:
            scheme = url.split(":", 1)[0]
            raise ValidationError(f"no store handles the URL scheme {scheme!r}", field="store")
        return made

    # -- lifecycle -----------------------------------------------------------------------

    def create_token(
        self,
        owner: str,
        name: str,
        *,
        scopes: Iterable[str] | None = None,
        expires_in: timedelta | _Default | None = DEFAULT,
        expires_at: datetime | None = None,
        projects: Iterable[str] | None = None,
        token_id: str | None = None,
        admin: bool = False,
        parent: TokenInfo | None = None,
        actor: str | None = None,
        remote: str | None = None,
        description: str | None = None,
        allowed_networks: Iterable[str] | None = None,
    ) -> IssuedToken:
        """Issue a new token. ``parent``: the token minting it (its bounds apply).

        ``allowed_networks``: CIDR networks (IPv4, IPv6) the token may be used from; empty or
        ``None``: anywhere. ``OwnerInactive`` while the owner is deactivated.
        """
        owner = validation.owner(owner)
        name = validation.name(name)
        wanted = self.scopes.validate([self.scopes.order[0]] if scopes is None else scopes)
        project_set = validation.projects(projects)
        about = "" if description is None else validation.description(description)
        networks = validation.networks(allowed_networks)
        if not isinstance(admin, bool):
            raise ValidationError("admin must be a bool", field="admin")
        now = self.clock()
        if isinstance(expires_in, _Default):
            expires_in = None if expires_at is not None else self.default_lifetime
        expiry = validation.expiry(now, expires_in, expires_at, self.max_lifetime)
        if parent is not None:
            parent = self._live_parent(parent.id, now)
            expiry = self._within_parent(parent, owner, wanted, project_set, expiry, admin)
            networks = self._networks_within_parent(parent, networks)
        self.hook.tokenguard_check_create(owner=owner, name=name, scopes=wanted,
                                          projects=project_set)
        chosen_id = None if token_id is None else validation.token_id(token_id)
        for _attempt in range(5):
            secret = tokens.generate(self.prefix)
            info = TokenInfo(
                id=chosen_id or secrets.token_hex(8), owner=owner, name=name, scopes=wanted,
                projects=project_set, admin=admin, created_at=now, expires_at=expiry,
                hint=tokens.hint(secret), parent_id=parent.id if parent else None,
                description=about, allowed_networks=networks,
            )
            try:
                self.store.insert(TokenRecord(info, self._hasher.digest(secret)),
                                  limit=self.max_tokens_per_owner, now=now)
            except TokenIdConflict:
                if chosen_id is not None:
                    raise
                continue
            except TokenLimitExceeded as exc:
                self.hook.tokenguard_limit_reached(owner=owner, limit=exc.limit, actor=actor, remote=remote)
                raise
            try:
                self.hook.tokenguard_token_created(info=info, actor=actor, remote=remote)
            finally:  # a plugin that fails must not spare a child whose parent died meanwhile
                if parent is not None:
                    self._recheck_parent(info, actor, remote)
            return IssuedToken(secret, self._present(info))
        raise TokenGuardError("could not allocate a token id")  # pragma: no cover

    def update_token(
        self, token_id: str, *, name: str | None = None, projects: Iterable[str] | None = None,
        description: str | None = None, allowed_networks: Iterable[str] | None = None,
        actor: str | None = None, remote: str | None = None,
    ) -> TokenInfo:
        """Rename, describe, re-project or re-restrict a token; ``None`` leaves a field as it is.

        Narrowing a token's projects or networks narrows what it minted: a child keeps only
        what its parent still has (an unrestricted child takes the parent's), and a child
        left with no project or no network is revoked. ``allowed_networks=[]``: anywhere.
        """
        changes: TokenChanges = {}
        if name is not None:
            changes["name"] = validation.name(name)
        if description is not None:
            changes["description"] = validation.description(description)
        if projects is not None:
            changes["projects"] = validation.projects(projects)
        if allowed_networks is not None:
            changes["allowed_networks"] = validation.networks(allowed_networks)
        record = self._record(token_id)
        parent = self._minting_parent(record.info) if (
            "projects" in changes or "allowed_networks" in changes) else None
        if parent is not None:
            if "projects" in changes and not self.reaches(parent, frozenset(), changes["projects"]):
                raise ValidationError("projects must be within the projects of the token that minted it",
                                      field="projects")
            if "allowed_networks" in changes:
                changes["allowed_networks"] = self._networks_within_parent(
                    parent, changes["allowed_networks"])
        if changes:
            record = self._apply(token_id, changes)
            self._invalidate(record)
            try:
                self.hook.tokenguard_token_updated(info=record.info, actor=actor, remote=remote)
            finally:  # what it minted stays within it, whatever a plugin does with the event
                if "projects" in changes or "allowed_networks" in changes:
                    self._narrow_children(record.info, actor, remote)
        return self._present(record.info)

    def revoke(self, token_id: str, *, actor: str | None = None, remote: str | None = None) -> TokenInfo:
        """Revoke the token (idempotent) and every token it minted."""
        record = self._record(token_id)
        try:
            if record.info.revoked_at is None:
                record = self._apply(token_id, {"revoked_at": self.clock()})
                self._invalidate(record)
                self.hook.tokenguard_token_revoked(info=record.info, actor=actor, remote=remote)
        finally:  # what it minted dies with it, whatever a plugin does with the events
            self._revoke_children(token_id, record.info.owner, actor, remote)
        return self._present(record.info)

    def reapprove(self, token_id: str, *, actor: str | None = None, remote: str | None = None) -> TokenInfo:
        """Undo a revocation; refused once the token has expired or while its parent is not active.

        A token minted by another dies with it: re-approving the child alone
        would bring back what revoking the parent took away.
        """
        record = self._record(token_id)
        now = self.clock()
        if self._present(record.info).is_expired_at(now):
            raise ValidationError("an expired token cannot be re-approved", field="id",
                                  reason="reapprove_expired")
        if record.info.revoked_at is not None:
            self._require_active_owner(record.info.owner)
            if record.info.parent_id is not None:
                self._live_parent(record.info.parent_id, now, "have its minted tokens re-approved",
                                  child=record.info)
            changes: TokenChanges = {"revoked_at": None}
            if record.previous_digest is not None:  # a secret replaced before the revoke stays dead
                changes["previous_digest"] = changes["previous_valid_until"] = None
            record = self._apply(token_id, changes)
            self._invalidate(record)
            try:
                self._require_active_owner(record.info.owner)  # deactivated meanwhile: revoked again
            except OwnerInactive:
                self.revoke(token_id, actor=actor, remote=remote)
                raise
            self.hook.tokenguard_token_reapproved(info=record.info, actor=actor, remote=remote)
        return self._present(record.info)

    def delete(self, token_id: str, *, actor: str | None = None, remote: str | None = None) -> TokenInfo:
        """Delete the token; tokens it minted are revoked."""
        record = self._record(token_id)
        self._revoke_children(token_id, record.info.owner, actor, remote)
        deleted = self.store.delete(token_id)
        if deleted is None:
            raise TokenNotFound(token_id)
        try:
            self._invalidate(deleted)
        finally:  # a child minted between the first pass and the delete; one minted later
            # finds its parent gone when it checks again (_recheck_parent)
            self._revoke_children(token_id, record.info.owner, actor, remote)
        self.hook.tokenguard_token_deleted(info=deleted.info, actor=actor, remote=remote)
        return self._present(deleted.info)

    def derive_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` derived from the secret key, so apps configure only one."""
        return self._hasher.derive(purpose)

    # -- resources ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the store and the invalidation plugin's subscriber, if any."""
        self.store.close()
        self._close_invalidation()

    def _close_invalidation(self) -> None:
        close_invalidation = getattr(self.invalidation, "close", None)
        if callable(close_invalidation):
            close_invalidation()

    def __enter__(self) -> TokenGuard:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TokenGuard(store={type(self.store).__name__}, prefix={self.prefix!r})"

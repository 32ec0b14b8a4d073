"""TokenGuard: the one entry point of the core."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from tokenguard import reminders, tokens, validation
from tokenguard._clock import Clock, utcnow
from tokenguard.cache import (
    DEFAULT_SIZE,
    DEFAULT_TTL,
    TOUCH_SECONDS,
    VerificationCache,
    forget,
    invalidation_plugin,
)
from tokenguard.errors import (
    InvalidToken,
    OwnerInactive,
    TokenGuardError,
    TokenIdConflict,
    TokenLimitExceeded,
    TokenNotFound,
    ValidationError,
)
from tokenguard.limiter import FailedAttemptLimiter, default_limiter
from tokenguard.models import IssuedToken, OwnerState, TokenInfo
from tokenguard.plugins import make_plugin_manager
from tokenguard.scopes import ScopeHierarchy
from tokenguard.stores.base import Store, TokenChanges, TokenRecord
from tokenguard.verification import Verification


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: Marks "use the guard's default lifetime" (``None`` means "never expires").
DEFAULT: Final = _Default()
TOUCH_INTERVAL = timedelta(seconds=TOUCH_SECONDS)


class TokenGuard(Verification):
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
        self.cache = VerificationCache(cache_ttl, cache_size)
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

    def _recheck_parent(self, child: TokenInfo, actor: str | None, remote: str | None) -> None:
        """Minting raced with revoking or deleting the parent: the child dies with it.

        The parent was live when checked, but a revoke or delete may have listed the
        parent's children before this child was stored. Read once more: if the parent
        is gone, revoke the child and refuse, as if the parent had been dead already.
        """
        try:
            self._live_parent(child.parent_id or "", self.clock(), child=child)
        except ValidationError:
            self.revoke(child.id, actor=actor, remote=remote)
            raise

    def _live_parent(self, parent_id: str, now: datetime, action: str = "mint tokens",
                     child: TokenInfo | None = None) -> TokenInfo:
        """The parent token as stored now: a revoked, expired or deleted one vouches for nothing.

        For an existing ``child``, the token under ``parent_id`` must be the one that minted
        it: ids are free again once deleted, and a newer token, or another owner's, that took
        the id vouches for nothing either.
        """
        record = self.store.get(parent_id)
        if record is not None and child is not None and (
            record.info.owner != child.owner or record.info.created_at > child.created_at
        ):
            record = None  # the id was reused: the minting token itself is deleted
        status: str = "deleted" if record is None else record.info.status_at(now)
        if record is None or status != "active":
            raise ValidationError(f"a {status} token cannot {action}", field="parent")
        return record.info

    def reaches(self, holder: TokenInfo, scopes: frozenset[str], projects: frozenset[str]) -> bool:
        """True when ``holder`` has every scope of ``scopes`` and every project of ``projects``.

        An empty ``projects`` means "every project", which only an unrestricted
        holder reaches. Admin tokens reach everything. This is the one rule
        behind "a token can never give more than it has".
        """
        if holder.admin:
            return True
        if not self.scopes.covers(holder.scopes, scopes):
            return False
        return not holder.projects or (bool(projects) and projects <= holder.projects)

    def _within_parent(
        self, parent: TokenInfo, owner: str, wanted: frozenset[str],
        project_set: frozenset[str], expiry: datetime | None, admin: bool,
    ) -> datetime | None:
        """A token can never mint one with more than it has itself."""
        if admin:
            raise ValidationError("admin tokens are created only from the CLI or core API",
                                  field="admin")
        if parent.owner != owner:
            raise ValidationError("a token mints only for its own owner", field="owner")
        if not self.reaches(parent, wanted, parent.projects):
            raise ValidationError("cannot grant scopes the calling token lacks", field="scopes")
        if not self.reaches(parent, frozenset(), project_set):
            raise ValidationError("projects must be within the calling token's projects",
                                  field="projects")
        if parent.expires_at is not None and (expiry is None or expiry > parent.expires_at):
            return parent.expires_at
        return expiry

    @staticmethod
    def _networks_within_parent(parent: TokenInfo, networks: frozenset[str]) -> frozenset[str]:
        """A minted token is used from nowhere its parent may not be: unrestricted, it takes
        the parent's networks; restricted, its networks must lie within the parent's."""
        if not parent.allowed_networks:
            return networks
        if not networks:
            return parent.allowed_networks
        if not validation.networks_within(networks, parent.allowed_networks):
            raise ValidationError("allowed_networks must be within the networks of the token "
                                  "that minted it", field="allowed_networks")
        return networks

    def get_token(self, token_id: str) -> TokenInfo:
        return self._present(self._record(token_id).info)

    def _record(self, token_id: str) -> TokenRecord:
        record = self.store.get(token_id) if validation.is_token_id(token_id) else None
        if record is None:
            raise TokenNotFound(str(token_id)[:64])
        return record

    def list_tokens(self, owner: str | None = None) -> list[TokenInfo]:
        """Every token of ``owner`` (``None``: of everyone), in any state."""
        if owner is not None:
            owner = validation.owner(owner)
        return [self._present(r.info) for r in self.store.list(owner)]

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

    def _minting_parent(self, child: TokenInfo) -> TokenInfo | None:
        """The stored token that minted ``child`` (not a newer one that took its id), if any."""
        if child.parent_id is None:
            return None
        parent = self.store.get(child.parent_id)
        if parent is None or parent.info.owner != child.owner or (
                parent.info.created_at > child.created_at):
            return None
        return parent.info

    def _narrow_children(self, parent: TokenInfo, actor: str | None, remote: str | None) -> None:
        """Every live token ``parent`` minted, brought back within the parent's projects and networks."""
        allowed = parent.projects
        if not allowed and not parent.allowed_networks:  # unrestricted: every child is within it
            return
        for child in self.store.list(parent.owner):
            info = child.info
            if info.parent_id != parent.id or info.revoked_at is not None:
                continue
            kept = info.projects if not allowed else allowed if not info.projects else (
                info.projects & allowed)
            networks = validation.networks_intersection(info.allowed_networks, parent.allowed_networks)
            if (allowed and not kept) or networks is None:
                self.revoke(info.id, actor=actor, remote=remote)
            elif kept != info.projects or networks != info.allowed_networks:
                self.update_token(info.id, projects=kept, allowed_networks=networks,
                                  actor=actor, remote=remote)

    def _apply(self, token_id: str, changes: TokenChanges) -> TokenRecord:
        record = self.store.update(token_id, changes)
        if record is None:
            raise TokenNotFound(token_id)
        return record

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

    def _revoke_children(self, parent_id: str, owner: str, actor: str | None, remote: str | None) -> None:
        for child in self.store.list(owner):
            if child.info.parent_id == parent_id and child.info.revoked_at is None:
                self.revoke(child.info.id, actor=actor, remote=remote)

    def reapprove(self, token_id: str, *, actor: str | None = None, remote: str | None = None) -> TokenInfo:
        """Undo a revocation; refused once the token has expired or while its parent is not active.

        A token minted by another dies with it: re-approving the child alone
        would bring back what revoking the parent took away.
        """
        record = self._record(token_id)
        now = self.clock()
        if self._present(record.info).is_expired_at(now):
            raise ValidationError("an expired token cannot be re-approved", field="id")
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

    def _require_active_owner(self, owner: str) -> None:
        if not self.is_owner_active(owner):
            raise OwnerInactive(owner)

    def rotate(
        self, token_id: str, *, grace: timedelta | None = None,
        expires_in: timedelta | _Default | None = DEFAULT,
        actor: str | None = None, remote: str | None = None,
    ) -> IssuedToken:
        """A new secret for an active token, working at once.

        The old secret stops working at once, or, with ``grace``, at ``now + grace``
        (never after the token itself expires); a secret an earlier grace kept alive stops
        at once. Revoking or deleting the token stops both. The expiry stays unless
        ``expires_in`` is given.
        """
        record = self._record(token_id)
        now = self.clock()
        status = self._present(record.info).status_at(now)
        if status != "active":
            raise ValidationError(f"a {status} token cannot be rotated", field="id")
        self._require_active_owner(record.info.owner)
        secret = tokens.generate(self.prefix)
        changes: TokenChanges = {"digest": self._hasher.digest(secret), "hint": tokens.hint(secret)}
        if not isinstance(expires_in, _Default):
            changes["expires_at"] = validation.expiry(now, expires_in, None, self.max_lifetime)
        if grace is not None:
            ends = [now + validation.grace(grace), record.info.expires_at, changes.get("expires_at")]
            changes["previous_digest"] = record.digest
            changes["previous_valid_until"] = min(when for when in ends if when is not None)
        elif record.previous_digest is not None:
            changes["previous_digest"] = changes["previous_valid_until"] = None
        new = self._apply(token_id, changes)
        self._invalidate(record)
        self.hook.tokenguard_token_rotated(info=new.info, actor=actor, remote=remote)
        return IssuedToken(secret, self._present(new.info))

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

    def revoke_owner(self, owner: str, *, actor: str | None = None, remote: str | None = None) -> int:
        """Revoke every token of ``owner`` (a deactivated user); return how many.

        The owner may create tokens again at once: :meth:`deactivate_owner` also keeps them out.
        """
        owner = validation.owner(owner)
        ids = self.store.revoke_owner(owner, self.clock())
        self._owner_revoked(owner, ids, actor, remote)
        return len(ids)

    def _owner_revoked(self, owner: str, ids: Sequence[str], actor: str | None,
                       remote: str | None) -> None:
        forget(ids, owner)
        for token_id in ids:
            self.hook.tokenguard_token_invalidated(token_id=token_id, digest=None)
        self.hook.tokenguard_owner_revoked(owner=owner, token_ids=list(ids), actor=actor,
                                           remote=remote)

    # -- owners -------------------------------------------------------------------------

    def deactivate_owner(self, owner: str, *, actor: str | None = None,
                         remote: str | None = None) -> int:
        """Revoke every token of ``owner`` and keep them inactive; return how many were revoked.

        Until :meth:`reactivate_owner`, creating, re-approving or rotating a token of theirs
        raises ``OwnerInactive`` (403 ``owner_inactive``), on every instance: the store
        records it (``tokenguard_owners``), atomically with the revocation.
        """
        owner = validation.owner(owner)
        ids = self.store.deactivate_owner(owner, self.clock(), actor)
        try:
            self._owner_revoked(owner, ids, actor, remote)
        finally:
            self.hook.tokenguard_owner_deactivated(owner=owner, actor=actor)
        return len(ids)

    def reactivate_owner(self, owner: str, *, actor: str | None = None) -> bool:
        """Let ``owner`` hold tokens again; no revoked token comes back. ``True`` if they were inactive."""
        owner = validation.owner(owner)
        lifted = self.store.reactivate_owner(owner)
        if lifted:
            self.hook.tokenguard_owner_reactivated(owner=owner, actor=actor)
        return lifted

    def is_owner_active(self, owner: str) -> bool:
        """False while ``owner`` is deactivated."""
        return self.owner_state(owner).active

    def owner_state(self, owner: str) -> OwnerState:
        """Whether ``owner`` is active, and when and by whom they were deactivated."""
        owner = validation.owner(owner)
        # a store made before owners had a state cannot deactivate one: everyone is active there
        get_owner = getattr(self.store, "get_owner", None)
        state = get_owner(owner) if get_owner is not None else None
        return state or OwnerState(owner)

    # -- expiry and stale tokens --------------------------------------------------------

    def expiring(self, within: timedelta = timedelta(days=7), owner: str | None = None) -> list[TokenInfo]:
        """Active tokens (of ``owner``, or everyone's) whose expiry is within ``within``, soonest first."""
        return reminders.expiring(self, within, owner)

    def unused(self, for_: timedelta = timedelta(days=90), owner: str | None = None) -> list[TokenInfo]:
        """Active tokens not used for ``for_`` (never used: created before), least recently seen first."""
        return reminders.unused(self, for_, owner)

    def remind(self, thresholds: Iterable[int] = reminders.DEFAULT_THRESHOLDS) -> int:
        """Fire ``tokenguard_token_expiring`` once per token and threshold (days); return how many.

        A token with fewer days left than a threshold is reminded at the smallest threshold
        it has reached, once, however often and on however many instances this runs: the
        store records each reminder (``tokenguard_reminders``) before it is sent.
        """
        return reminders.remind(self, thresholds)

    # -- leaks --------------------------------------------------------------------------

    def revoke_leaked(self, token: object, *, source: str, url: str | None = None,
                      actor: str | None = None, remote: str | None = None) -> TokenInfo | None:
        """A token found in public (``source``: who found it, ``url``: where) is revoked and
        ``tokenguard_token_leaked`` fires; ``None`` for a value that is no token of this guard."""
        revoked = self.revoke_by_value(token, actor=actor, remote=remote)
        if revoked is not None:
            self.hook.tokenguard_token_leaked(info=revoked, source=source, url=url)
        return revoked

    def revoke_by_value(
        self, token: object, *, actor: str | None = None, remote: str | None = None,
    ) -> TokenInfo | None:
        """RFC 7009: whoever holds a token can kill it. Unknown tokens are ignored.

        The store is asked, never the verification cache: another process may have
        rotated the token (its old secret must not revoke the new one) or deleted it.
        """
        try:
            found = self._lookup_stored(token, remote)
            return self.revoke(found.id, actor=actor, remote=remote)
        except (InvalidToken, TokenNotFound):
            return None

    def introspect(self, token: object, *, remote: str | None = None) -> TokenInfo | None:
        """The info of a token in any state, as stored now, without recording a use; ``None`` if unknown."""
        try:
            return self._lookup_stored(token, remote)
        except InvalidToken:
            return None

    def _lookup_stored(self, token: object, remote: str | None) -> TokenInfo:
        """The token as the store holds it now, past the verification cache; ``InvalidToken`` if unknown.

        ``remote`` goes into the ``auth_failed`` event of an unknown or malformed value, and
        to ``before_authenticate`` first: an address the limiter blocks is refused here too.
        """
        self._check_attempt(remote)
        return self._lookup_store(self._canonical(token, remote), None, remote).info

    def _invalidate(self, record: TokenRecord) -> None:
        """Every cache of this process forgets the token at once; plugins (Redis) tell the others.

        Both of its secrets' digests, during a rotation's grace period.
        """
        forget((record.info.id,))
        self.hook.tokenguard_token_invalidated(token_id=record.info.id, digest=record.digest)
        if record.previous_digest is not None:
            self.hook.tokenguard_token_invalidated(token_id=record.info.id,
                                                   digest=record.previous_digest)

    def derive_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` derived from the secret key, so apps configure only one."""
        return self._hasher.derive(purpose)

    # -- resources ----------------------------------------------------------------------

    def close(self) -> None:
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

"""Rotation: a new secret for a token, with an optional grace period for the old one (Stripe's roll).

Mixed into ``TokenGuard``. During the grace the store keeps the old secret's digest
(``previous_digest``) until ``previous_valid_until``; revoking or deleting the token
forgets both digests, on every instance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tokenguard import tokens, validation
from tokenguard.defaults import DEFAULT, _Default
from tokenguard.errors import ValidationError
from tokenguard.models import IssuedToken
from tokenguard.owner_activation import OwnerActivation
from tokenguard.stores.base import TokenChanges


class Rotation(OwnerActivation):
    """``rotate``: the new secret works at once, the old one until the grace ends."""

    max_lifetime: timedelta | None

    def rotate(
        self, token_id: str, *, grace: timedelta | None = None,
        expires_in: timedelta | _Default | None = DEFAULT, expires_at: datetime | None = None,
        actor: str | None = None, remote: str | None = None,
    ) -> IssuedToken:
        """A new secret for an active token, working at once.

        The old secret stops working at once, or, with ``grace``, at ``now + grace``
        (never after the token itself expires); a secret an earlier grace kept alive stops
        at once. Revoking or deleting the token stops both. The expiry stays unless
        ``expires_in`` or ``expires_at`` is given (within ``max_lifetime``).
        """
        record = self._record(token_id)
        now = self.clock()
        status = self._present(record.info).status_at(now)
        if status != "active":
            raise ValidationError(f"a {status} token cannot be rotated", field="id",
                                  reason=f"rotate_{status}")
        self._require_active_owner(record.info.owner)
        secret = tokens.generate(self.prefix)
        changes: TokenChanges = {"digest": self._hasher.digest(secret), "hint": tokens.hint(secret)}
        if expires_at is not None or not isinstance(expires_in, _Default):
            relative = None if isinstance(expires_in, _Default) else expires_in
            changes["expires_at"] = validation.expiry(now, relative, expires_at, self.max_lifetime)
        if grace is not None:
            ends = [now + validation.grace(grace), record.info.expires_at, changes.get("expires_at")]
            changes["previous_digest"] = record.digest
            changes["previous_valid_until"] = min(when for when in ends if when is not None)
        elif record.previous_digest is not None:
            changes["previous_digest"] = changes["previous_valid_until"] = None
        new = self._apply(token_id, changes)
        self._invalidate(record)
        self.hook.tokenguard_token_rotated(info=new.info, actor=actor, remote=remote,
                                           previous_valid_until=new.previous_valid_until)
        return IssuedToken(secret, self._present(new.info))

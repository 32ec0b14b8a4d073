"""Expiry reminders and stale tokens: ``guard.expiring``, ``guard.unused`` and ``guard.remind``.

Each reads one indexed query of the store (``expires_at``; ``last_used_at`` with
``created_at``), so its cost follows the tokens it finds, not how many there are.
``remind`` is made to be run from cron, every few minutes, on every instance at once:
a reminder is claimed in the store (``tokenguard_reminders``, unique per token and
threshold) before it is sent, and only the claimer sends it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tokenguard import validation
from tokenguard.errors import ValidationError
from tokenguard.models import TokenInfo
from tokenguard.verification import Verification

if TYPE_CHECKING:
    from tokenguard.stores.base import TokenRecord

logger = logging.getLogger("tokenguard")
#: Days before expiry at which ``remind`` sends a reminder.
DEFAULT_THRESHOLDS = (30, 7, 1)
DAY = timedelta(days=1)
MAX_THRESHOLD_DAYS = 3650


def thresholds(values: Iterable[int]) -> tuple[int, ...]:
    """Reminder thresholds in days: positive ints, distinct, smallest first."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError("thresholds must be a list of days", field="thresholds")
    found = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_THRESHOLD_DAYS:
            raise ValidationError(f"each threshold must be a whole number of days from 1 to "
                                  f"{MAX_THRESHOLD_DAYS}", field="thresholds")
        found.add(value)
    if not found:
        raise ValidationError("give at least one threshold", field="thresholds")
    return tuple(sorted(found))


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until ``expires_at``, rounded up: 6 days and an hour is 7."""
    return max(1, math.ceil((expires_at - now) / DAY))


def _window(value: object, field: str) -> timedelta:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError(f"{field} must be a positive timedelta", field=field)
    return value


def _owner(owner: str | None) -> str | None:
    return None if owner is None else validation.owner(owner)


def _active(guard: Verification, records: Sequence[TokenRecord], now: datetime) -> list[TokenInfo]:
    """The records as the guard presents them, those still active (``expire_unused_after``)."""
    presented = (guard._present(record.info) for record in records)
    return [info for info in presented if info.status_at(now) == "active"]


def expiring(guard: Verification, within: timedelta, owner: str | None) -> list[TokenInfo]:
    now = guard.clock()
    until = now + _window(within, "within")
    return _active(guard, guard.store.expiring(now, until, _owner(owner)), now)


def unused(guard: Verification, for_: timedelta, owner: str | None) -> list[TokenInfo]:
    now = guard.clock()
    before = now - _window(for_, "for_")
    return _active(guard, guard.store.unused(now, before, _owner(owner)), now)


def remind(guard: Verification, values: Iterable[int]) -> int:
    """Send each due reminder once; return how many this call sent."""
    chosen = thresholds(values)
    now = guard.clock()
    sent = 0
    for info in _active(guard, guard.store.expiring(now, now + chosen[-1] * DAY), now):
        expires_at = info.expires_at
        assert expires_at is not None  # expiring() finds only tokens that expire
        threshold = next(t for t in chosen if expires_at - now <= t * DAY)
        if not guard.store.claim_reminder(info.id, threshold, expires_at):
            continue  # sent already, by this instance or another
        try:
            guard.hook.tokenguard_token_expiring(info=info, days_left=days_left(expires_at, now))
        except Exception:  # one plugin failing stops neither the others' tokens nor cron
            logger.exception("a plugin failed on the expiry reminder of token %s", info.id)
            continue
        sent += 1
    return sent


class ExpiryReminders(Verification):
    """``expiring``, ``unused`` and ``remind``, mixed into ``TokenGuard``."""

    def expiring(self, within: timedelta = timedelta(days=7), owner: str | None = None) -> list[TokenInfo]:
        """Active tokens (of ``owner``, or everyone's) whose expiry is within ``within``, soonest first."""
        return expiring(self, within, owner)

    def unused(self, for_: timedelta = timedelta(days=90), owner: str | None = None) -> list[TokenInfo]:
        """Active tokens not used for ``for_`` (never used: created before), least recently seen first."""
        return unused(self, for_, owner)

    def remind(self, thresholds: Iterable[int] = DEFAULT_THRESHOLDS) -> int:
        """Fire ``tokenguard_token_expiring`` once per token and threshold (days); return how many.

        A token with fewer days left than a threshold is reminded at the smallest threshold
        it has reached, once, however often and on however many instances this runs: the
        store records each reminder (``tokenguard_reminders``) before it is sent.
        """
        return remind(self, thresholds)

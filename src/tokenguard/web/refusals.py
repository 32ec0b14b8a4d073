"""What the settings page says of a value the core refused, in the visitor's language.

The core's ``ValidationError`` speaks English, for the management API's JSON and the
logs; its ``reason`` and ``params`` say the same thing for a page. Each reason the
create, edit, rotate and re-approve forms can meet has its catalog message here, keyed
by the field and the reason (or the reason alone); any other error is shown as the
core wrote it, in English, never not at all.
"""

from __future__ import annotations

from tokenguard.errors import ReasonParam, ValidationError
from tokenguard.web.flash import Flash
from tokenguard.web.i18n import N_, Message, MessageParam
from tokenguard.web.pageview import ID_RESERVED

#: the page's message of a refusal, by ``(field, reason)``, else by ``(None, reason)``.
MESSAGES: dict[tuple[str | None, str], str] = {
    ("name", "empty"): N_("Enter a name."),
    (None, "too_long"): N_("Use at most %(max)s characters."),
    (None, "bad_character"): N_("Remove the control, format or bidirectional character "
                                "(%(character)s)."),
    (None, "id_pattern"): N_("Use 1 to 64 lowercase letters, digits, hyphens or underscores."),
    (None, "id_reserved"): ID_RESERVED,
    (None, "project_pattern"): N_("A project name starts with a letter or digit, followed by up to "
                                  "63 letters, digits or the characters _ . : / -."),
    ("projects", "too_many"): N_("Choose at most %(max)s projects."),
    ("allowed_networks", "too_many"): N_("List at most %(max)s networks."),
    (None, "unknown_scope"): N_("Choose a permission from the list."),
    (None, "expiry_choice"): N_("Choose an expiry from the list."),
    (None, "expiry_days"): N_("Choose from 1 to %(max)s days."),
    (None, "expiry_past"): N_("Choose a date in the future."),
    (None, "expiry_too_far"): N_("That date is too far in the future."),
    (None, "expiry_required"): N_("Tokens on this server expire within %(lifetime)s: choose an expiry."),
    (None, "expiry_beyond_max"): N_("Choose an expiry within the maximum lifetime of %(lifetime)s."),
    (None, "date_missing"): N_("Choose a date."),
    (None, "date_format"): N_("Enter a date such as 2030-12-31."),
    (None, "date_range"): N_("That date is out of range."),
    (None, "network_invalid"): N_("Write each network in CIDR form, such as 203.0.113.0/24 or "
                                  "2001:db8::/32."),
    (None, "network_not_cidr"): N_("“%(network)s” is not a CIDR network such as 203.0.113.0/24 or "
                                   "2001:db8::/32."),
    (None, "network_host_bits"): N_("“%(network)s” has host bits set: write the network, %(meant)s."),
    (None, "grace_choice"): N_("Choose how long the old secret keeps working from the list."),
    (None, "rotate_revoked"): N_("A revoked token cannot be rotated."),
    (None, "rotate_expired"): N_("An expired token cannot be rotated."),
    (None, "reapprove_expired"): N_("An expired token cannot be re-approved."),
    (None, "admin_token"): N_("Admin tokens are managed from the command line only."),
}
#: the flash of an action on a token that was refused: the token, then why.
REFUSED = N_("“%(name)s”: %(reason)s")


def _shown(value: ReasonParam) -> MessageParam:
    return str(value) if isinstance(value, int) else value


def refusal(exc: ValidationError) -> Message:
    """What the page shows of ``exc``: its catalog message with the values it names, else its English."""
    text = (MESSAGES.get((exc.field, exc.reason)) or MESSAGES.get((None, exc.reason))
            if exc.reason is not None else None)
    if text is None:  # not a reason of ours: the core's text (translated if it is a catalog id)
        return Message(str(exc))
    return Message(text, tuple(sorted((name, _shown(value)) for name, value in exc.params.items())))


def refused_flash(name: str, exc: ValidationError) -> Flash:
    """The error flash of an action on the token ``name`` that ``exc`` refused."""
    return Flash("error", REFUSED, (("name", name), ("reason", refusal(exc))))

"""Reading request bodies and the create/update fields, for both the API and the page.

Every malformed input becomes a ``ValidationError`` naming the field (400),
never an exception the adapter would turn into a 500.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs

from tokenguard.errors import ValidationError
from tokenguard.guard import DEFAULT, TokenGuard, _Default
from tokenguard.web.http import WebRequest

MAX_FORM_FIELDS = 100
MAX_EXPIRY_DAYS = 36500
CREATE_FIELDS = frozenset({"name", "scopes", "projects", "id", "expires_in_days", "expires_at"})
UPDATE_FIELDS = frozenset({"name", "projects"})
_SEPARATORS = re.compile(r"[\s,]+")
#: Unknown field names are repeated in errors only if this short: a token (40+ characters) never is.
_ECHOABLE_FIELD = re.compile(r"[A-Za-z0-9_.-]{1,32}")

Form = dict[str, list[str]]


class UnsupportedMediaType(ValidationError):
    """The body is not in a format this endpoint reads (415)."""

    status_code = 415


@dataclass(frozen=True, slots=True)
class CreateSpec:
    """What a create request asks for, checked for shape; the core checks the values."""

    name: str
    scopes: list[str]
    projects: list[str] | None = None
    token_id: str | None = None
    expires_in: timedelta | _Default | None = DEFAULT
    expires_at: datetime | None = None


def _media_type(request: WebRequest) -> str:
    return (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()


def is_json(request: WebRequest) -> bool:
    kind = _media_type(request)
    return kind == "application/json" or kind.endswith("+json")


def read_json(request: WebRequest) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``."""
    if not request.body.strip():
        return {}
    if not is_json(request):
        raise UnsupportedMediaType("the body must be application/json", field="body")
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise ValidationError("the body is not valid JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    for key, value in data.items():  # "\ud800" is valid JSON, yet no text: it cannot be shown or stored
        if not _encodable(key):
            raise ValidationError("a field name is not valid Unicode", field="body")
        if not _encodable(value):
            raise ValidationError(f"{key} is not valid Unicode", field=key)
    return data


def _encodable(value: object) -> bool:
    """False when a string in ``value`` holds a lone surrogate, which UTF-8 cannot encode."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_form(request: WebRequest) -> Form:
    """``application/x-www-form-urlencoded`` fields (a JSON object is accepted too)."""
    if is_json(request):
        return {key: [value] for key, value in read_json(request).items() if isinstance(value, str)}
    if request.body and _media_type(request) not in ("application/x-www-form-urlencoded", ""):
        raise UnsupportedMediaType("the body must be a urlencoded form", field="body")
    try:
        text = request.body.decode("utf-8")
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("the form is malformed", field="body") from None


def form_value(form: Form, name: str) -> str | None:
    values = form.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError(f"{name} was given more than once", field=name)
    return values[0]


def refuse_unknown(data: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in data:
        if key == "admin":
            raise ValidationError("admin tokens are created only from the CLI or core API",
                                  field="admin")
        if key not in allowed:
            # Echo only what can be a field name: never a secret pasted in the wrong place.
            if _ECHOABLE_FIELD.fullmatch(key):
                raise ValidationError(f"unknown field {key!r}", field=key)
            raise ValidationError("unknown field", field="body")


def create_spec_from_json(data: dict[str, Any], guard: TokenGuard) -> CreateSpec:
    refuse_unknown(data, CREATE_FIELDS)
    if not isinstance(data.get("name"), str):
        raise ValidationError("name is required and must be a string", field="name")
    token_id = data.get("id")
    if token_id is not None and not isinstance(token_id, str):
        raise ValidationError("id must be a string", field="id")
    scopes = data.get("scopes", [guard.scopes.order[0]])
    if not isinstance(scopes, list):
        raise ValidationError("scopes must be a list of scope names", field="scopes")
    projects = data.get("projects")
    if projects is not None and not isinstance(projects, list):
        raise ValidationError("projects must be a list of project names", field="projects")
    expires_in: timedelta | _Default | None = DEFAULT
    expires_at = None
    if "expires_in_days" in data and "expires_at" in data:
        raise ValidationError("give expires_in_days or expires_at, not both", field="expires_at")
    if "expires_in_days" in data:
        expires_in = _days(data["expires_in_days"], "expires_in_days")
    elif "expires_at" in data:
        expires_at = parse_expiry(data["expires_at"], "expires_at")
        expires_in = None if expires_at is None else DEFAULT
    return CreateSpec(data["name"], scopes, projects, token_id, expires_in, expires_at)


def _days(value: object, field: str) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRY_DAYS:
        raise ValidationError(f"{field} must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}, "
                              "or null for no expiry", field=field, reason="expiry_days",
                              params={"max": MAX_EXPIRY_DAYS})
    return timedelta(days=value)


def parse_expiry(value: object, field: str) -> datetime | None:
    """An RFC 3339 time with a zone, or a date meaning "valid through that day (UTC)"."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValidationError(f"{field} must be a date or an RFC 3339 date-time", field=field,
                              reason="date_format")
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value) + timedelta(days=1), time(), UTC)
        when = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise ValidationError(f"{field} must be a date or an RFC 3339 date-time", field=field,
                              reason="date_format") from None
    if when.tzinfo is None:
        raise ValidationError(f"{field} must include a time zone, like 2030-01-01T00:00:00Z", field=field)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValidationError(f"{field} is out of range", field=field, reason="date_range") from None


def update_from_json(data: dict[str, Any]) -> tuple[str | None, list[str] | None]:
    refuse_unknown(data, UPDATE_FIELDS)
    projects = data.get("projects")
    if projects is not None and not isinstance(projects, list):
        raise ValidationError("projects must be a list of project names", field="projects")
    name = data.get("name")
    if "name" in data and not isinstance(name, str):
        raise ValidationError("name must be a string", field="name")
    return name, projects


def split_projects(text: str | None) -> list[str]:
    """Projects typed in one box, separated by commas or spaces."""
    return [part for part in _SEPARATORS.split(text or "") if part]


@dataclass(frozen=True, slots=True)
class ExpiryChoice:
    value: str
    label: str


def expiry_choices(guard: TokenGuard, never: bool | None = None) -> tuple[list[ExpiryChoice], str]:
    """The expiry options the page offers within ``max_lifetime``, and the default one.

    ``never``: offer "Never" (``TokenPolicy.never_expires_offered``); ``None``: when no maximum is set.
    """
    presets = {7, 30, 90}
    default = guard.default_lifetime
    if default is not None and default.days >= 1 and default == timedelta(days=default.days):
        presets.add(default.days)
    limit = guard.max_lifetime
    choices = [ExpiryChoice(str(d), f"{d} days") for d in sorted(presets)
               if limit is None or timedelta(days=d) <= limit]
    choices.append(ExpiryChoice("custom", "Custom date"))
    never = limit is None if never is None else never
    if never:
        choices.append(ExpiryChoice("never", "Never"))
    if default is None:
        chosen = "never" if never else choices[0].value
    elif default == timedelta(days=default.days):
        chosen = str(default.days)
    else:
        chosen = choices[0].value
    return choices, chosen


def expiry_from_form(form: Form, guard: TokenGuard,
                     never: bool | None = None) -> tuple[timedelta | _Default | None, datetime | None]:
    """The ``expires`` choice of a form (and its ``expires_on`` date): ``(expires_in, expires_at)``."""
    choice = form_value(form, "expires") or expiry_choices(guard, never)[1]
    expires_in: timedelta | _Default | None = DEFAULT
    expires_at = None
    if choice == "never":
        expires_in = None
    elif choice == "custom":
        expires_at = parse_expiry(form_value(form, "expires_on") or "", "expires_on")
        if expires_at is None or len(form_value(form, "expires_on") or "") != 10:
            raise ValidationError("choose a date", field="expires_on", reason="date_missing")
    elif choice.isascii() and choice.isdigit() and len(choice) <= 5:  # not "³": int() refuses it
        expires_in = _days(int(choice), "expires")
    else:
        raise ValidationError("choose an expiry", field="expires", reason="expiry_choice")
    return expires_in, expires_at


def projects_from_form(form: Form) -> list[str]:
    """Projects typed in one box, or ticked in a picker (one ``projects`` field per project)."""
    return [name for value in form.get("projects", []) for name in split_projects(value)]


def create_spec_from_form(form: Form, guard: TokenGuard) -> CreateSpec:
    permission = form_value(form, "permission") or guard.scopes.order[0]
    token_id = (form_value(form, "id") or "").strip() or None
    expires_in, expires_at = expiry_from_form(form, guard)
    return CreateSpec(form_value(form, "name") or "", [permission],
                      projects_from_form(form), token_id, expires_in, expires_at)


@dataclass(frozen=True, slots=True)
class EditSpec:
    """What the details page's edit form asks for; the core checks the values."""

    name: str
    description: str
    projects: list[str]
    allowed_networks: list[str]


def edit_spec_from_form(form: Form) -> EditSpec:
    """The edit form: every field is sent, so an empty one clears it (no projects: all of them).

    The description box may wrap lines; a description is one line, so line breaks become spaces.
    """
    about = " ".join((form_value(form, "description") or "").splitlines())
    return EditSpec(form_value(form, "name") or "", about, projects_from_form(form),
                    split_projects(form_value(form, "allowed_networks")))

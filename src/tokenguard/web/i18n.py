"""The settings page in the visitor's language: the locale, the catalogs, dates and spans.

English is the source; German, French and Dutch catalogs are compiled into the
package (``translations/<locale>/LC_MESSAGES/tokenguard.mo``, domain
``tokenguard``, so they never clash with a host's ``messages``). The locale of a
request is, in this order: what ``WebOptions.locale_selector`` answers, else the
best match of ``Accept-Language``, else English; a locale without a catalog of
ours falls back the same way, so the page never mixes two languages.

Rendering never changes a shared ``Environment``: each render call gets its own
``gettext`` and ``ngettext`` (:func:`template_callables`) in its context, which
Jinja's i18n extension resolves before the environment's globals. The management
API's JSON stays English.
"""

from __future__ import annotations

import functools
import gettext as gettext_module
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from babel import UnknownLocaleError, negotiate_locale
from babel.dates import format_date, format_skeleton, format_timedelta
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

if TYPE_CHECKING:
    from tokenguard.web.http import WebRequest
    from tokenguard.web.options import WebOptions

DOMAIN = "tokenguard"
SOURCE_LOCALE = "en"
#: the English page writes dates day first ("15 Dec 2030"), as it always has.
_ENGLISH_DATE = "d MMM y"
_DATE_SKELETON = "yMMMd"
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*|\*")
_QUALITY = re.compile(r"q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)", re.IGNORECASE)
MAX_LANGUAGES = 32


def N_(message: str) -> str:
    """Marks ``message`` for the catalog (pybabel's keyword ``N_``); the page translates it when shown."""
    return message


def _translations_dir() -> Any:
    return resources.files("tokenguard.web").joinpath("translations")


@functools.cache
def available_locales() -> tuple[str, ...]:
    """English and every locale with a compiled catalog in the package, e.g. ``("en", "de", …)``."""
    folder = _translations_dir()
    if not folder.is_dir():  # a package built without its catalogs: English, not a crash
        return (SOURCE_LOCALE,)
    found = sorted(entry.name for entry in folder.iterdir()
                   if entry.joinpath("LC_MESSAGES", f"{DOMAIN}.mo").is_file())
    return (SOURCE_LOCALE, *found)


@functools.cache
def translations(locale: str) -> gettext_module.NullTranslations:
    """The compiled catalog of ``locale`` (loaded once), or no translation for English."""
    if locale == SOURCE_LOCALE or locale not in available_locales():
        return gettext_module.NullTranslations()
    with resources.as_file(_translations_dir()) as directory:
        return Translations.load(str(directory), [locale], DOMAIN)


@functools.cache
def own_messages() -> frozenset[str]:
    """Every message id of our catalog (from ``messages.pot``): what is not one of ours is the host's."""
    template = _translations_dir().joinpath("messages.pot")
    if not template.is_file():
        return frozenset()
    with template.open("rb") as pot:
        catalog = read_po(pot)
    return frozenset(m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id)


# -- which locale ---------------------------------------------------------------------------

def parse_accept_language(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, best first (RFC 9110 §12.5.4).

    Ties keep the header's order; ``q=0`` means "not this one"; a malformed
    entry is skipped, never an error; at most ``MAX_LANGUAGES`` entries are read.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, entry in enumerate((header or "").split(",")[:MAX_LANGUAGES]):
        tag, *params = (part.strip() for part in entry.split(";"))
        if not _LANGUAGE_TAG.fullmatch(tag):
            continue
        quality = 1.0
        for param in params:
            if param[:2].lower() == "q=":
                found = _QUALITY.fullmatch(param.replace(" ", ""))
                quality = float(found.group(1)) if found else -1.0
        if quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def best_locale(preferred: Iterable[str], available: Iterable[str] | None = None) -> str | None:
    """The first of ``preferred`` (tags like ``de-AT`` or ``de_AT``) that we have, else ``None``.

    ``de-AT`` finds ``de``; ``*`` is no particular language and finds nothing.
    """
    have = {locale.lower(): locale for locale in (available_locales() if available is None else available)}
    wanted = [tag.replace("_", "-") for tag in preferred if tag != "*"]
    found = negotiate_locale(wanted, list(have), sep="-")
    return None if found is None else have.get(found.lower(), found)


def selected_locale(value: object) -> str | None:
    """What a ``locale_selector`` answered (``"de_DE"``, ``"fr-CA"``, a Babel ``Locale``), as ours."""
    if value is None or value == "":
        return None
    return best_locale([str(value)])


def request_locale(request: WebRequest | None, options: WebOptions | None = None,
                   chosen: object = None) -> str:
    """The locale of one page: ``chosen`` (by the adapter), the selector's, ``Accept-Language``'s, English."""
    if chosen is not None:
        return selected_locale(chosen) or SOURCE_LOCALE
    selector = options.locale_selector if options is not None else None
    if selector is not None and request is not None:
        answer = selector(request)
        if answer:
            return selected_locale(answer) or SOURCE_LOCALE
    header = request.header("Accept-Language") if request is not None else None
    return best_locale(parse_accept_language(header)) or SOURCE_LOCALE


def language_tag(locale: str) -> str:
    """``de_CH`` as HTML's ``lang`` wants it: ``de-CH``."""
    return locale.replace("_", "-")


# -- what a render call gets ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Message:
    """A message id of our catalog (``N_``-marked) and the values of its ``%(…)s`` placeholders.

    What the page is handed to show (a field's error, a flash), translated when
    rendered (:meth:`PageLanguage.message`); ``str()`` is the English text, filled in.
    """

    text: str
    params: tuple[tuple[str, MessageParam], ...] = ()

    def __str__(self) -> str:
        return PageLanguage.of(SOURCE_LOCALE).message(self)


#: a placeholder's value: text shown as is, a message translated, a length of time worded.
MessageParam = str | timedelta | Message


@dataclass(frozen=True, slots=True)
class PageLanguage:
    """One request's language: translations, dates and time spans in ``locale``."""

    locale: str
    translations: gettext_module.NullTranslations

    @classmethod
    def of(cls, locale: str) -> PageLanguage:
        return cls(locale, translations(locale))

    @property
    def lang(self) -> str:
        return language_tag(self.locale)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.translations.ngettext(singular, plural, count)

    def message(self, text: str | Message, params: Iterable[tuple[str, MessageParam]] = ()) -> str:
        """A message id the page was handed as data (``N_``-marked), translated; other text as is.

        Only a message of ours with ``params`` is %-formatted, with them (a flash's
        ``%(name)s``): a token's name is a value filled in, never part of the format.
        A :class:`Message` brings its own; a value that is itself a ``Message`` is
        translated too, and a ``timedelta`` is worded in the locale ("90 Tage").
        """
        if isinstance(text, Message):
            params = (*text.params, *params)
            text = text.text
        if text not in own_messages():
            return text
        translated = self.translations.gettext(text)
        values = {name: self._value(value) for name, value in params}
        if not values:
            return translated
        try:
            return translated % values
        except (KeyError, ValueError, TypeError):  # a catalog entry that lost a placeholder
            return text % values

    def _value(self, value: MessageParam) -> str:
        if isinstance(value, Message):
            return self.message(value)
        if isinstance(value, timedelta):
            return self.span(value)
        return value

    def span(self, value: timedelta) -> str:
        """A length of time in its largest whole unit: ``90 days``, ``90 Tage``, ``12 heures``."""
        seconds = int(value.total_seconds())
        unit: Unit | Literal["second"] = next(
            (name for name, size in _UNITS if seconds >= size and seconds % size == 0), "second")
        return format_timedelta(value, granularity=unit, threshold=1e9, locale=self.locale)

    def date(self, day: date | datetime) -> str:
        """A short date: ``15 Dec 2030``, ``15. Dez. 2030``, ``15 déc. 2030``, ``15 dec 2030``."""
        try:
            if self.locale == SOURCE_LOCALE:
                return format_date(day, _ENGLISH_DATE, locale=SOURCE_LOCALE)
            return format_skeleton(_DATE_SKELETON, day, locale=self.locale)
        except (UnknownLocaleError, ValueError):  # pragma: no cover: every shipped locale is in CLDR
            return format_date(day, _ENGLISH_DATE, locale=SOURCE_LOCALE)

    def relative(self, span: timedelta) -> str:
        """``span`` from now, to the nearest whole unit: ``in 7 days``, ``2 hours ago``, ``just now``."""
        return relative_span(span, self)


Unit = Literal["day", "hour", "minute"]
#: (unit, seconds) from the largest the page says to the smallest.
_UNITS: tuple[tuple[Unit, int], ...] = (("day", 86400), ("hour", 3600), ("minute", 60))


def relative_span(span: timedelta, language: PageLanguage) -> str:
    """A time ``span`` from now in words, rounded to the nearest whole unit.

    Days for anything from a day on (a 7-day token reads "in 7 days" from the
    second it is made, never "in 6 days" nor "in 1 week"), then hours, then minutes;
    under a minute, "just now".
    """
    seconds = span.total_seconds()
    size = abs(seconds)
    for unit, length in _UNITS:
        count = int(size / length + 0.5)  # half up: 14.5 days read "15 days"
        if count >= 1:
            exact = timedelta(seconds=count * length if seconds >= 0 else -count * length)
            return format_timedelta(exact, granularity=unit, threshold=1e9, add_direction=True,
                                    locale=language.locale)
    return language.gettext("just now")


def template_callables(language: PageLanguage, fallback: Callable[..., Any] | None = None
                       ) -> dict[str, Any]:
    """``gettext`` and ``ngettext`` for one render call, as Jinja's new-style i18n has them.

    Jinja's i18n extension compiles ``{% trans %}`` and ``_()`` to calls of these
    names, looked up in the render context first: no shared ``Environment`` is
    changed, so concurrent requests in other languages never see each other's.
    Like Jinja's own: a translation is marked safe under autoescape, then
    %-formatted with the (escaped) variables. ``fallback``: the host's own
    ``gettext`` global (Flask-Babel's, say), given every message that is not ours,
    so a host layout keeps its own translations.
    """
    ours = own_messages()

    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        if message not in ours and fallback is not None:
            return str(context.call(fallback, message, **variables))
        text: str = language.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our catalog's text, HTML by design; the variables are escaped
        return text % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, count: int, /, **variables: Any) -> str:
        variables.setdefault("num", count)
        text: str = language.ngettext(singular, plural, count)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - as in gettext
        return text % variables

    return {"gettext": gettext, "ngettext": ngettext}


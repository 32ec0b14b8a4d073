"""The settings page in the visitor's language: negotiation, catalogs, translated pages, dates and spans."""
# ruff: noqa: RUF001 - French and Dutch write the apostrophe as U+2019, as the catalogs do

from __future__ import annotations

import re
import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from _testclock import ManualClock
from tokenguard import TokenGuard
from tokenguard.web import i18n, listing, pageview
from tokenguard.web.http import WebRequest
from tokenguard.web.i18n import (
    PageLanguage,
    available_locales,
    best_locale,
    parse_accept_language,
    relative_span,
    request_locale,
)
from tokenguard.web.options import WebOptions
from tokenguard.web.render import Renderer

TRANSLATIONS = Path(i18n.__file__).parent / "translations"
LOCALES = ("de", "fr", "nl")
PAGE = "/settings/tokens"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|<[^>]+>")


def request(accept_language: str | None = None, **extra: str) -> WebRequest:
    headers = {k.lower(): v for k, v in extra.items()}
    if accept_language is not None:
        headers["accept-language"] = accept_language
    return WebRequest("GET", "/", lambda name: [headers[name.lower()]] if name.lower() in headers else [],
                      root=PAGE)


@pytest.fixture
def guard() -> TokenGuard:
    return TokenGuard("memory://", secret_key=secrets.token_bytes(32), load_entry_points=False,
                      clock=ManualClock(datetime(2030, 12, 1, 12, 0, tzinfo=UTC)), max_tokens_per_owner=5)


def page_in(guard: TokenGuard, accept_language: str, **options: Any) -> str:
    now = guard.clock()
    tokens = guard.list_tokens("alice")
    table = listing.list_view(tokens, listing.ListQuery(), guard.scopes, now, PAGE)
    context = {"root": PAGE, "app_name": "Notes", "owner": "alice", "csrf_token": "c", "flash": None,
               "table": table, "rows": [pageview.token_row(t, guard, now) for t in table.found.items],
               "limit": pageview.limit_of(tokens, guard, now), "choices": pageview.form_choices(guard, now),
               "form": pageview.CreateForm(), "form_nonce": "n" * 16, "issued": None, "issued_action": "",
               "export_line": "", "env_var": "API_TOKEN", "api_path": "/api/tokens"}
    return Renderer(WebOptions(**options)).page("settings.html", context,
                                                request=request(accept_language)).body.decode()


# -- Accept-Language ------------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "expected"), [
    ("de", ["de"]),
    ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-CH", "fr", "en", "de", "*"]),
    ("en;q=0.5, nl", ["nl", "en"]),                       # quality orders, not position
    ("de;q=0.8, fr;q=0.8, nl;q=0.9", ["nl", "de", "fr"]),  # ties keep the header's order
    ("de;q=0, fr", ["fr"]),                               # q=0: not this one
    ("de;Q=0.3 , fr ; q=1", ["fr", "de"]),                # spaces, a capital Q
    ("de;q=1.5, fr;q=abc, nl;q=0.5", ["nl"]),             # a malformed quality drops that entry
    ("de;q=0.0001, fr", ["fr"]),                          # more than three decimals is malformed
    ("de;level=1, fr", ["de", "fr"]),                     # other parameters are ignored
    ("12, <script>, de_DE, ", ["de_DE"]),                 # not a language tag: skipped
    ("", []),
    (None, []),
])
def test_accept_language_is_ranked_by_quality(header: str | None, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


def test_a_long_header_is_read_no_further_than_its_first_entries() -> None:
    assert parse_accept_language(", ".join(["xx"] * 1000 + ["de"])) == ["xx"] * i18n.MAX_LANGUAGES


@pytest.mark.parametrize(("preferred", "expected"), [
    (["de-AT"], "de"), (["fr_CA"], "fr"), (["NL"], "nl"), (["pt", "nl-BE", "de"], "nl"),
    (["en-GB", "de"], "en"), (["*"], None), (["pt", "es"], None), ([], None),
])
def test_the_best_locale_we_have(preferred: list[str], expected: str | None) -> None:
    assert best_locale(preferred) == expected


def test_the_shipped_locales() -> None:
    assert available_locales() == ("en", "de", "fr", "nl")


def test_the_locale_selector_wins_over_accept_language() -> None:
    seen: list[WebRequest] = []

    def selector(req: WebRequest) -> str:
        seen.append(req)
        return "fr_FR"

    req = request("de")
    assert request_locale(req, WebOptions(locale_selector=selector)) == "fr"
    assert seen == [req]


def test_a_selector_that_answers_nothing_leaves_it_to_accept_language() -> None:
    assert request_locale(request("nl;q=0.9, de;q=0.8"), WebOptions(locale_selector=lambda r: None)) == "nl"


def test_a_locale_we_have_no_catalog_for_is_english_not_accept_languages() -> None:
    """The host chose Spanish: the page is English, not the German the browser also accepts."""
    assert request_locale(request("de"), WebOptions(locale_selector=lambda r: "es")) == "en"


def test_without_a_choice_the_page_is_english() -> None:
    assert request_locale(request(), WebOptions()) == "en"
    assert request_locale(None) == "en"
    assert request_locale(request("pt-BR, es")) == "en"


def test_a_locale_the_adapter_chose_comes_first() -> None:
    assert request_locale(request("de"), WebOptions(), chosen="nl_BE") == "nl"


# -- the catalogs ---------------------------------------------------------------------------------

def _pot_ids() -> set[Any]:
    with (TRANSLATIONS / "messages.pot").open("rb") as pot:
        return {m.id for m in read_po(pot) if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "tokenguard.po").open("rb") as po:
        catalog = read_po(po)
    messages = {m.id: m for m in catalog if m.id}
    assert set(messages) == _pot_ids()  # up to date with the template
    for message in messages.values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and not message.fuzzy, message.id
        expected = sorted(_PLACEHOLDER.findall(ids[-1]))
        for text in strings:  # the same variables and markup: nothing lost, nothing injected
            found = sorted(_PLACEHOLDER.findall(text))
            assert found == expected or (len(ids) == 2 and found == sorted(_PLACEHOLDER.findall(ids[0]))), \
                (message.id, text)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_shipped_mo_is_compiled_from_the_po(locale: str) -> None:
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    with (folder / "tokenguard.po").open("rb") as po, (folder / "tokenguard.mo").open("rb") as mo:
        source, compiled = read_po(po), read_mo(mo)
    def table(catalog: Any) -> dict[Any, Any]:
        return {_tuple(m.id): _tuple(m.string) for m in catalog if m.id}

    assert table(source) == table(compiled)


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


def test_every_string_of_the_templates_is_marked_for_translation() -> None:
    """What a visitor reads comes from the catalog: no bare English text between tags."""
    templates = Path(i18n.__file__).parent / "templates" / "tokenguard"
    for template in templates.glob("*.html"):
        text = template.read_text()
        text = re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL)
        text = re.sub(r"\{%-?\s*trans\b.*?endtrans\s*-?%\}", "", text, flags=re.DOTALL)
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.DOTALL)
        text = re.sub(r"<(code|script|style)\b.*?</\1>", "", text, flags=re.DOTALL)
        bare = [t.strip() for t in re.sub(r"<[^>]*>", "\n", text).splitlines()
                if re.search(r"[A-Za-z]{2}", t) and t.strip() not in ("OpenAPI",)]
        assert bare == [], template.name


# -- pages in German, French, Dutch ---------------------------------------------------------------

@pytest.mark.parametrize(("accept", "lang", "expected"), [
    ("de-DE,de;q=0.9,en;q=0.5", "de", ["API-Tokens", "Token erstellen", "Ihre Tokens",
                                        "Angemeldet als <strong>alice</strong>", "Berechtigung",
                                        "Daten lesen und ändern.", "Läuft ab", "Eigenes Datum", "30 Tage",
                                        "API von Notes", "Nie", "aktiv", "Widerrufen", "Löschen",
                                        "„ci“ löschen?"]),
    ("fr", "fr", ["Jetons d’API", "Créer le jeton", "Vos jetons",
                  "Connecté en tant que <strong>alice</strong>",
                  "Autorisation", "Lire et modifier les données.", "Expire", "Date personnalisée",
                  "30 jours", "l’API de Notes", "Jamais", "actif", "Révoquer", "Supprimer"]),
    ("nl-BE", "nl", ["API-tokens", "Token aanmaken", "Je tokens", "Ingelogd als <strong>alice</strong>",
                     "Rechten", "Gegevens lezen en wijzigen.", "Verloopt", "Eigen datum", "30 dagen",
                     "API van Notes", "Nooit", "actief", "Intrekken", "Verwijderen"]),
])
def test_the_page_in_the_visitors_language(guard: TokenGuard, accept: str, lang: str,
                                           expected: list[str]) -> None:
    guard.create_token("alice", "ci", scopes=["write"], expires_in=timedelta(days=7))
    html = page_in(guard, accept)
    assert f'<html lang="{lang}">' in html
    for text in expected:
        assert text in html, text
    for english in ("Create a token", "Your tokens", "Signed in as", "Never", "Revoke"):
        assert english not in html, english


def test_translated_text_still_escapes_what_users_typed(guard: TokenGuard) -> None:
    guard.create_token("alice", "<b>ci</b>", scopes=["read"])
    html = page_in(guard, "de", owner_display=lambda owner: "<i>Alice</i>")
    assert "Angemeldet als <strong>&lt;i&gt;Alice&lt;/i&gt;</strong>" in html
    assert "„&lt;b&gt;ci&lt;/b&gt;“ löschen?" in html and "<b>ci</b>" not in html


def test_a_name_with_a_percent_sign_is_shown_as_it_is(guard: TokenGuard) -> None:
    guard.create_token("alice", "100% %(name)s %s", scopes=["read"])
    html = page_in(guard, "fr")
    assert "Supprimer «\u00a0100% %(name)s %s\u00a0»\u00a0?" in html


def test_the_management_api_stays_english() -> None:
    """Only the page is translated: the catalogs hold no JSON error text."""
    assert not any("invalid_request" in str(m) or "must be" in str(m) for m in _pot_ids())


def test_languages_of_concurrent_renders_never_mix(guard: TokenGuard) -> None:
    """Translations travel with each render call: the shared environment is never changed."""
    renderer = Renderer()
    before = dict(renderer.env.globals)
    results: dict[str, list[str]] = {loc: [] for loc in ("en", *LOCALES)}
    start = threading.Barrier(len(results))
    context = {"root": PAGE, "title": "Not found", "text": "There is no such page or token.", "status": 404,
               "owner": None}

    def render(locale: str) -> None:
        start.wait()
        for _ in range(20):
            answer = renderer.page("problem.html", context, request=request(locale))
            results[locale].append(answer.body.decode())

    threads = [threading.Thread(target=render, args=(loc,)) for loc in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    titles = {"en": "Not found", "de": "Nicht gefunden", "fr": "Introuvable", "nl": "Niet gevonden"}
    for locale, pages in results.items():
        assert all(f"<h1>{titles[locale]}</h1>" in page for page in pages), locale
    assert dict(renderer.env.globals) == before


# -- dates and spans ------------------------------------------------------------------------------

@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "15 Dec 2030"), ("de", "15. Dez. 2030"), ("fr", "15 déc. 2030"), ("nl", "15 dec 2030"),
])
def test_dates_are_localised(locale: str, expected: str) -> None:
    assert PageLanguage.of(locale).date(date(2030, 12, 15)) == expected


@pytest.mark.parametrize(("span", "en", "de", "fr", "nl"), [
    (timedelta(days=7), "in 7 days", "in 7 Tagen", "dans 7 jours", "over 7 dagen"),
    (timedelta(days=6, hours=23, minutes=59), "in 7 days", "in 7 Tagen", "dans 7 jours", "over 7 dagen"),
    (timedelta(days=1), "in 1 day", "in 1 Tag", "dans 1 jour", "over 1 dag"),
    (timedelta(days=90), "in 90 days", "in 90 Tagen", "dans 90 jours", "over 90 dagen"),
    (-timedelta(hours=2), "2 hours ago", "vor 2 Stunden", "il y a 2 heures", "2 uur geleden"),
    (-timedelta(minutes=5), "5 minutes ago", "vor 5 Minuten", "il y a 5 minutes", "5 minuten geleden"),
    (timedelta(seconds=20), "just now", "gerade eben", "à l’instant", "zojuist"),
])
def test_relative_times_are_localised_and_rounded(span: timedelta, en: str, de: str, fr: str,
                                                 nl: str) -> None:
    for locale, expected in (("en", en), ("de", de), ("fr", fr), ("nl", nl)):
        assert relative_span(span, PageLanguage.of(locale)) == expected


def test_the_page_words_dates_in_its_language(guard: TokenGuard) -> None:
    guard.create_token("alice", "ci", scopes=["read"], expires_in=timedelta(days=14))
    html = page_in(guard, "de")
    assert "15. Dez. 2030" in html and "in 14 Tagen" in html and "1. Dez. 2030" in html

"""The admin page in the visitor's language: every string of admin.html and admin.py is a message of
our catalog, translated in German, French and Dutch, and the page renders in German (Flask's client)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from flask import Flask

from _flask_support import PAGE, Browser, make_app, make_guard
from tokenguard import TokenGuard

WEB = Path(__file__).resolve().parents[1] / "src" / "tokenguard" / "web"
TEMPLATE = WEB / "templates" / "tokenguard" / "admin.html"
MACROS = WEB / "templates" / "tokenguard" / "macros.html"
ADMIN = f"{PAGE}/admin"
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}
#: attributes a person reads (or hears): never literal text, always a translated expression.
READ_ATTRIBUTES = re.compile(r'\b(?:title|placeholder|aria-label|alt|data-confirm)="([^"]*)"')


def admin_messages() -> set[str]:
    """Every message id admin.html (with the macros it imports) and admin.py give the catalog (as
    ``make messages`` finds them)."""
    found: set[str] = set()
    options = {"trimmed": "true", "newstyle_gettext": "true"}
    for template in (TEMPLATE, MACROS):
        for _, message, _, _ in extract_from_file("jinja2", str(template), options=options):
            found.add(message if isinstance(message, str) else message[0])
    for _, message, _, _ in extract_from_file("python", str(WEB / "admin.py"), keywords={"N_": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_template_has_no_text_outside_gettext() -> None:
    source = TEMPLATE.read_text()
    for value in READ_ATTRIBUTES.findall(source):
        assert re.fullmatch(r"\s*\{\{.*\}\}\s*", value), f"untranslated attribute text: {value!r}"
    text = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", "", source, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", text, flags=re.S)
    text = re.sub(r"<[^>]*>", "", text, flags=re.S)
    assert [word for word in text.split() if re.search(r"[^\W\d_]", word)] == []


def test_admin_py_marks_its_page_messages() -> None:
    source = (WEB / "admin.py").read_text()
    assert not re.search(r'Flash\(\s*"[a-z]+",\s*f"', source)  # a flash is a message id, filled in later
    assert {"Revoked “%(name)s” of %(owner)s.", "You are not allowed to administer API tokens."} <= \
        admin_messages()


@pytest.mark.parametrize("locale", ["de", "fr", "nl"])
def test_every_admin_message_is_translated(locale: str) -> None:
    with (WEB / "translations" / locale / "LC_MESSAGES" / "tokenguard.po").open("rb") as po:
        catalog = read_po(po)
    untranslated = []
    for message in sorted(admin_messages()):
        entry = catalog.get(message) or next((m for m in catalog if isinstance(m.id, tuple)
                                              and m.id[0] == message), None)
        strings = () if entry is None else (entry.string if isinstance(entry.string, tuple)
                                            else (entry.string,))
        if entry is None or entry.fuzzy or not all(strings):
            untranslated.append(message)
    assert untranslated == []


@pytest.fixture
def guard() -> TokenGuard:
    guard = make_guard(max_tokens_per_owner=4)
    guard.create_token("alice", "CI pipeline", scopes=["write"], token_id="ci")
    return guard


@pytest.fixture
def app(guard: TokenGuard) -> Flask:
    made = make_app(guard)
    made.extensions["tokenguard"].extension.can_administer(lambda owner: owner == "root")
    return made


def test_the_admin_page_in_german(app: Flask, guard: TokenGuard) -> None:
    root = Browser(app, "root")
    page = root.client.get(ADMIN, headers=GERMAN)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="de"' in text
    assert "<h1>Alle API-Tokens</h1>" in text
    assert "Token-Richtlinie" in text and "Tokens pro Konto" in text and ">Nein<" not in text
    assert "Filter anwenden" in text and "Konto deaktivieren" in text
    for english in ("All API tokens", "Apply filters", "Token policy", "Deactivate owner", "Revoke"):
        assert f">{english}<" not in text

    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', text)
    assert csrf is not None
    revoked = root.client.post(f"{ADMIN}/tokens/ci/revoke", data={"csrf_token": csrf.group(1)},
                               headers={"Origin": "http://localhost", **GERMAN})
    assert revoked.status_code == 303
    after = root.client.get(revoked.headers["Location"], headers=GERMAN).get_data(as_text=True)
    assert "„CI pipeline“ von alice widerrufen." in after  # the flash, translated, then filled in
    assert guard.get_token("ci").status == "revoked"


def test_a_flash_keeps_a_name_that_looks_like_a_placeholder(app: Flask, guard: TokenGuard) -> None:
    guard.create_token("alice", "%(owner)s <b>", token_id="odd")
    root = Browser(app, "root")
    listing = root.client.get(ADMIN).get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', listing)
    assert csrf is not None
    revoked = root.client.post(f"{ADMIN}/tokens/odd/revoke", data={"csrf_token": csrf.group(1)},
                               headers={"Origin": "http://localhost"})
    after = root.client.get(revoked.headers["Location"]).get_data(as_text=True)
    assert "Revoked “%(owner)s &lt;b&gt;” of alice." in after


def test_a_deactivated_owners_reapprove_is_refused_in_german(app: Flask, guard: TokenGuard) -> None:
    guard.revoke("ci")
    guard.deactivate_owner("alice")
    alice = Browser(app, "alice")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', alice.page().get_data(as_text=True))
    assert csrf is not None
    refused = alice.client.post(f"{PAGE}/ci/reapprove", data={"csrf_token": csrf.group(1)},
                                headers={"Origin": "http://localhost", **GERMAN})
    assert refused.status_code == 403
    assert "Ihr Konto ist deaktiviert" in refused.get_data(as_text=True)
    assert guard.get_token("ci").status == "revoked"


def test_a_filter_the_page_cannot_read_is_explained_in_german(app: Flask) -> None:
    bad = Browser(app, "root").client.get(f"{ADMIN}?expiring_within_days=soon", headers=GERMAN)
    assert bad.status_code == 400
    assert "„Läuft ab innerhalb von“ erwartet eine ganze Zahl von Tagen." in bad.get_data(as_text=True)


@pytest.mark.parametrize(("language", "mark"), [
    ("de", "läuft bald ab"), ("fr", "expire bientôt"), ("nl", "verloopt binnenkort"),
])
def test_the_expires_soon_mark_in_each_language(app: Flask, guard: TokenGuard, language: str,
                                                mark: str) -> None:
    guard.create_token("alice", "short-lived", expires_in=timedelta(days=3))
    page = Browser(app, "root").client.get(ADMIN, headers={"Accept-Language": language})
    text = page.get_data(as_text=True)
    assert text.count(f'<span class="badge expiring">{mark}</span>') == 1
    assert "expires soon" not in text

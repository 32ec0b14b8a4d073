"""The settings page's flashes and the core's refusals in the visitor's language, through Flask and Starlette.

The core refuses in English (the management API's JSON, the logs); the page says the same in
German, French and Dutch, with the token's name or the value refused filled in, escaped, as is.
"""
# ruff: noqa: RUF001 - French and Dutch write the apostrophe as U+2019, as the catalogs do

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route
from starlette.testclient import TestClient

import tokenguard
import tokenguard_asgi
from _flask_support import make_app as make_flask_app
from _flask_support import make_guard
from _site_support import response_text, sign_in
from _testclock import START, ManualClock
from tokenguard import TokenGuard, validation
from tokenguard.errors import ValidationError
from tokenguard.web.csrf import owner_tag
from tokenguard.web.flash import FLASH_COOKIE, Flash, FlashCookies
from tokenguard.web.http import WebRequest
from tokenguard.web.i18n import Message, PageLanguage
from tokenguard.web.refusals import MESSAGES, REFUSED, refusal

PAGE = "/settings/tokens"
API = "/api/tokens"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_FLASH = re.compile(r'<div class="flash flash-(\w+)" role="\w+">(.*?)</div>', re.S)
NB = "\u00a0"
#: a name with markup and placeholders: escaped, and never taken for part of a message's format.
ODD_NAME = "<b>50% %(name)s %s</b>"
SHOWN = html.escape(ODD_NAME, quote=False)


class Reply:
    def __init__(self, status: int, headers: Any, text: str) -> None:
        self.status, self.headers, self.text = status, headers, text

    def field_error(self, field: str) -> str:
        found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', self.text, re.S)
        assert found is not None, f"no error next to {field}"
        return found.group(1)

    def flash(self) -> tuple[str, str]:
        found = _FLASH.search(self.text)
        assert found is not None, "no flash"
        return found.group(1), found.group(2)


class Site:
    """A browser signed in as alice on one adapter's app, in one language."""

    def __init__(self, name: str, client: Any, origin: str) -> None:
        self.name, self.client, self.origin = name, client, origin
        self.language = "en"

    def get(self, path: str) -> Reply:
        return self._reply(self.client.get(path, headers={"Accept-Language": self.language}))

    def form(self, path: str, data: dict[str, Any]) -> Reply:
        csrf = _META_CSRF.search(self.get(PAGE).text)
        assert csrf is not None
        headers = {"Origin": self.origin, "Accept-Language": self.language}
        fields = {"csrf_token": csrf.group(1), **data}
        if self.name == "flask":
            return self._reply(self.client.post(path, data=fields, headers=headers))
        return self._reply(self.client.post(path, data=fields, headers=headers, follow_redirects=False))

    def after(self, reply: Reply) -> Reply:
        """The page a 303 sends the browser to, with its flash."""
        assert reply.status == 303, reply.text
        return self.get(reply.headers["Location"])

    def _reply(self, response: Any) -> Reply:
        return Reply(response.status_code, response.headers, response_text(self.name, response))


def _starlette_app(guard: TokenGuard) -> Starlette:
    return Starlette(routes=[Route("/login/{user}", sign_in)], middleware=[
        Middleware(SessionMiddleware, secret_key=secrets.token_hex(16)),
        Middleware(tokenguard_asgi.TokenGuardMiddleware, guard=guard,
                   owner_loader=lambda request: request.session.get("user"))])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def guard(clock: ManualClock) -> Iterator[TokenGuard]:
    made = make_guard(clock=clock, max_lifetime=timedelta(days=90), max_tokens_per_owner=10)
    yield made
    made.close()


@pytest.fixture(params=["flask", "starlette"])
def site(request: pytest.FixtureRequest, guard: TokenGuard) -> Iterator[Site]:
    if request.param == "flask":
        client: Any = make_flask_app(guard).test_client()
        assert client.post("/_login", data={"user": "alice"}).status_code == 204
        yield Site("flask", client, "http://localhost")
        return
    with TestClient(_starlette_app(guard)) as asgi_client:
        assert asgi_client.get("/login/alice").status_code == 200
        yield Site("starlette", asgi_client, "http://testserver")


def quoted(language: str, name: str) -> str:
    """``name`` between the quotation marks of ``language``."""
    return {"en": f"“{name}”", "de": f"„{name}“", "fr": f"«{NB}{name}{NB}»", "nl": f"“{name}”"}[language]


# -- the flashes of the actions on a token ------------------------------------------------------------

ACTIONS = {  # revoked, re-approved, already rotated, deleted: {name} is the token's, quoted
    "en": ("Revoked {name}.", "Re-approved {name}.",
           "{name} was already rotated; its new secret is shown only once.", "Deleted {name}."),
    "de": ("{name} widerrufen.", "{name} wieder freigegeben.",
           "{name} wurde bereits erneuert; sein neues Geheimnis wird nur einmal angezeigt.",
           "{name} gelöscht."),
    "fr": ("{name} révoqué.", "{name} réactivé.",
           f"{{name}} a déjà été renouvelé{NB}; son nouveau secret n’est affiché qu’une seule fois.",
           "{name} supprimé."),
    "nl": ("{name} ingetrokken.", "{name} opnieuw goedgekeurd.",
           "{name} is al vernieuwd; het nieuwe geheim wordt maar één keer getoond.", "{name} verwijderd."),
}


@pytest.mark.parametrize("language", ["en", "de", "fr", "nl"])
def test_the_action_flashes_name_the_token_in_the_visitors_language(site: Site, guard: TokenGuard,
                                                                     language: str) -> None:
    guard.create_token("alice", ODD_NAME, token_id="t1", expires_in=timedelta(days=30))
    site.language = language
    name = quoted(language, SHOWN)
    revoked, reapproved, rotated, deleted = (text.format(name=name) for text in ACTIONS[language])

    assert site.after(site.form(f"{PAGE}/t1/revoke", {})).flash() == ("success", revoked)
    assert guard.get_token("t1").status == "revoked"
    assert site.after(site.form(f"{PAGE}/t1/reapprove", {})).flash() == ("success", reapproved)
    hint = guard.get_token("t1").hint
    assert site.form(f"{PAGE}/t1/rotate", {"hint": hint}).status == 200
    assert site.after(site.form(f"{PAGE}/t1/rotate", {"hint": hint})).flash() == ("info", rotated)
    assert site.after(site.form(f"{PAGE}/t1/delete", {"confirm": "yes"})).flash() == ("success", deleted)
    assert guard.list_tokens("alice") == []


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "That token was already created; its secret is shown only once."),
    ("de", "Dieses Token wurde bereits erstellt; sein Geheimnis wird nur einmal angezeigt."),
    ("fr", f"Ce jeton a déjà été créé{NB}; son secret n’est affiché qu’une seule fois."),
    ("nl", "Dit token is al aangemaakt; het geheim wordt maar één keer getoond."),
])
def test_a_create_form_sent_again_says_so_in_the_visitors_language(site: Site, language: str,
                                                                  expected: str) -> None:
    site.language = language
    data = {"name": "ci", "permission": "read", "expires": "30", "id": "ci"}
    assert site.form(PAGE, data).status == 200
    assert site.after(site.form(PAGE, data)).flash() == ("info", expected)


# -- refused actions: the token, and why ---------------------------------------------------------------

REFUSED_ACTIONS = {  # re-approve an expired token; rotate a revoked one; regenerate beyond the maximum
    "en": ("{name}: An expired token cannot be re-approved.", "{name}: A revoked token cannot be rotated.",
           "{name}: Choose an expiry within the maximum lifetime of 90 days."),
    "de": ("{name}: Ein abgelaufenes Token kann nicht wieder freigegeben werden.",
           "{name}: Ein widerrufenes Token kann nicht erneuert werden.",
           "{name}: Wählen Sie ein Ablaufdatum innerhalb der maximalen Gültigkeitsdauer (90 Tage)."),
    "fr": (f"{{name}}{NB}: Un jeton expiré ne peut pas être réactivé.",
           f"{{name}}{NB}: Un jeton révoqué ne peut pas être renouvelé.",
           f"{{name}}{NB}: Choisissez une date d’expiration qui ne dépasse pas la durée de validité "
           f"maximale de 90{NB}jours."),
    "nl": ("{name}: Een verlopen token kan niet opnieuw worden goedgekeurd.",
           "{name}: Een ingetrokken token kan niet worden vernieuwd.",
           "{name}: Kies een vervaldatum binnen de maximale geldigheidsduur van 90 dagen."),
}


@pytest.mark.parametrize("language", ["en", "de", "fr", "nl"])
def test_a_refused_action_says_why_in_the_visitors_language(site: Site, guard: TokenGuard,
                                                            clock: ManualClock, language: str) -> None:
    guard.create_token("alice", ODD_NAME, token_id="short", expires_in=timedelta(days=7))
    guard.create_token("alice", "ci", token_id="ci", expires_in=timedelta(days=30))
    guard.create_token("alice", "off", token_id="off", expires_in=timedelta(days=60))
    guard.revoke("short")
    guard.revoke("off")
    clock.advance(days=8)
    site.language = language
    expired, revoked, too_long = REFUSED_ACTIONS[language]

    refused = site.after(site.form(f"{PAGE}/short/reapprove", {}))
    assert refused.flash() == ("error", expired.format(name=quoted(language, SHOWN)))
    assert site.after(site.form(f"{PAGE}/off/rotate", {})).flash() == (
        "error", revoked.format(name=quoted(language, "off")))
    regenerate = {"expires": "custom", "expires_on": (clock() + timedelta(days=200)).date().isoformat()}
    assert site.after(site.form(f"{PAGE}/ci/rotate", regenerate)).flash() == (
        "error", too_long.format(name=quoted(language, "ci")))
    assert guard.get_token("short").status == "revoked" and guard.get_token("off").status == "revoked"


# -- the create form's field errors ---------------------------------------------------------------------

CREATE_ERRORS = {  # (fields sent, the field named, what it says in en, de, fr, nl)
    "empty name": ({"name": "  "}, "name", (
        "Enter a name.", "Geben Sie einen Namen ein.", "Saisissez un nom.", "Voer een naam in.")),
    "long name": ({"name": "n" * 101}, "name", (
        "Use at most 100 characters.", "Verwenden Sie höchstens 100 Zeichen.",
        "Utilisez au plus 100 caractères.", "Gebruik hoogstens 100 tekens.")),
    "bad id": ({"id": "Not Valid"}, "id", (
        "Use 1 to 64 lowercase letters, digits, hyphens or underscores.",
        "Verwenden Sie 1 bis 64 Kleinbuchstaben, Ziffern, Bindestriche oder Unterstriche.",
        "Utilisez de 1 à 64 lettres minuscules, chiffres, traits d’union ou tirets bas.",
        "Gebruik 1 tot 64 kleine letters, cijfers, koppeltekens of liggende streepjes.")),
    "past expiry": ({"expires": "custom", "expires_on": "2020-01-01"}, "expires_on", (
        "Choose a date in the future.", "Wählen Sie ein Datum in der Zukunft.",
        "Choisissez une date à venir.", "Kies een datum in de toekomst.")),
    "expiry too far": ({"expires": "custom", "expires_on": "2099-01-01"}, "expires_on", (
        "Choose an expiry within the maximum lifetime of 90 days.",
        "Wählen Sie ein Ablaufdatum innerhalb der maximalen Gültigkeitsdauer (90 Tage).",
        f"Choisissez une date d’expiration qui ne dépasse pas la durée de validité maximale de 90{NB}jours.",
        "Kies een vervaldatum binnen de maximale geldigheidsduur van 90 dagen.")),
    "bad project": ({"projects": "ok, not!ok"}, "projects", (
        "A project name starts with a letter or digit, followed by up to 63 letters, digits or the "
        "characters _ . : / -.",
        "Ein Projektname beginnt mit einem Buchstaben oder einer Ziffer, gefolgt von bis zu 63 Buchstaben, "
        "Ziffern oder den Zeichen _ . : / -.",
        "Un nom de projet commence par une lettre ou un chiffre, suivi d’au plus 63 lettres, chiffres ou "
        "caractères _ . : / -.",
        "Een projectnaam begint met een letter of cijfer, gevolgd door hoogstens 63 letters, cijfers of de "
        "tekens _ . : / -.")),
}
CHECK_FIELD = {"en": "Check the highlighted field.", "de": "Bitte prüfen Sie das markierte Feld.",
               "fr": "Vérifiez le champ signalé.", "nl": "Controleer het gemarkeerde veld."}


@pytest.mark.parametrize("case", sorted(CREATE_ERRORS))
@pytest.mark.parametrize(("index", "language"), list(enumerate(["en", "de", "fr", "nl"])))
def test_the_create_forms_field_errors_in_the_visitors_language(site: Site, guard: TokenGuard, case: str,
                                                                index: int, language: str) -> None:
    sent, field, said = CREATE_ERRORS[case]
    site.language = language
    reply = site.form(PAGE, {"name": "ci", "permission": "read", "expires": "30", **sent})
    assert reply.status == 400
    assert reply.field_error(field) == html.escape(said[index], quote=False)
    assert f'<p class="form-error" role="alert">{CHECK_FIELD[language]}</p>' in reply.text
    assert guard.list_tokens("alice") == []


def test_an_error_the_page_has_no_message_for_is_shown_in_english(site: Site, guard: TokenGuard) -> None:
    """A refusal without a reason of ours: the core's own words, next to its field, never a crash."""
    site.language = "de"
    reply = site.form(PAGE, {"name": ["a", "b"], "permission": "read", "expires": "30"})
    assert reply.status == 400
    assert reply.field_error("name") == "name was given more than once"
    assert "Bitte prüfen Sie das markierte Feld." in reply.text
    assert guard.list_tokens("alice") == []


# -- the details page's edit form -------------------------------------------------------------------------

EDIT_ERRORS = {  # (field, value sent, what it says in en, de, fr, nl)
    "host bits": ("allowed_networks", "10.1.2.3/8", (
        "“10.1.2.3/8” has host bits set: write the network, 10.0.0.0/8.",
        "In „10.1.2.3/8“ sind Host-Bits gesetzt: Schreiben Sie das Netz, 10.0.0.0/8.",
        f"«{NB}10.1.2.3/8{NB}» a des bits d’hôte positionnés{NB}: écrivez le réseau, 10.0.0.0/8.",
        "In “10.1.2.3/8” zijn hostbits gezet: schrijf het netwerk, 10.0.0.0/8.")),
    "not a network": ("allowed_networks", "<office>", (
        "“<office>” is not a CIDR network such as 203.0.113.0/24 or 2001:db8::/32.",
        "„<office>“ ist kein CIDR-Netz wie 203.0.113.0/24 oder 2001:db8::/32.",
        f"«{NB}<office>{NB}» n’est pas un réseau CIDR comme 203.0.113.0/24 ou 2001:db8::/32.",
        "“<office>” is geen CIDR-netwerk zoals 203.0.113.0/24 of 2001:db8::/32.")),
    "long description": ("description", "d" * 501, (
        "Use at most 500 characters.", "Verwenden Sie höchstens 500 Zeichen.",
        "Utilisez au plus 500 caractères.", "Gebruik hoogstens 500 tekens.")),
    "bidi name": ("name", "ci\u202egnp.exe", (
        "Remove the control, format or bidirectional character (U+202E).",
        "Entfernen Sie das Steuer-, Format- oder Richtungszeichen (U+202E).",
        "Supprimez le caractère de contrôle, de formatage ou bidirectionnel (U+202E).",
        "Verwijder het stuur-, opmaak- of richtingsteken (U+202E).")),
}


@pytest.mark.parametrize("case", sorted(EDIT_ERRORS))
@pytest.mark.parametrize(("index", "language"), list(enumerate(["en", "de", "fr", "nl"])))
def test_the_edit_forms_field_errors_in_the_visitors_language(site: Site, guard: TokenGuard, case: str,
                                                              index: int, language: str) -> None:
    guard.create_token("alice", "ci", token_id="ci", expires_in=timedelta(days=30))
    field, value, said = EDIT_ERRORS[case]
    site.language = language
    data = {"name": "ci", "description": "", "projects": "", "allowed_networks": "", field: value}
    reply = site.form(f"{PAGE}/ci", data)
    assert reply.status == 400
    assert reply.field_error(field) == html.escape(said[index], quote=False)
    assert guard.get_token("ci").allowed_networks == frozenset()


# -- what stays English -------------------------------------------------------------------------------------

def test_the_management_api_refuses_in_english_whatever_the_browser_speaks(site: Site) -> None:
    site.language = "de"
    listing = site.client.get(API)
    headers = {"X-CSRF-Token": listing.headers["X-CSRF-Token"], "Origin": site.origin,
               "Accept-Language": "de"}
    answer = site.client.post(API, json={"name": " ", "expires_in_days": 30}, headers=headers)
    body = json.loads(answer.get_data(as_text=True) if site.name == "flask" else answer.text)
    assert answer.status_code == 400
    assert body == {"error": "invalid_request", "error_description": "name must not be empty",
                    "field": "name"}


def test_a_reason_changes_nothing_of_the_core_error() -> None:
    exc = ValidationError("expiry is beyond the maximum lifetime of 90 days", "expires_at",
                          reason="expiry_beyond_max", params={"lifetime": timedelta(days=90)})
    assert str(exc) == "expiry is beyond the maximum lifetime of 90 days"
    assert exc.body() == {"error": "invalid_request", "field": "expires_at",
                          "error_description": "expiry is beyond the maximum lifetime of 90 days"}
    assert str(refusal(exc)) == "Choose an expiry within the maximum lifetime of 90 days."
    assert PageLanguage.of("nl").message(refusal(exc)) == \
        "Kies een vervaldatum binnen de maximale geldigheidsduur van 90 dagen."


def test_a_reason_the_page_does_not_know_is_the_cores_english() -> None:
    exc = ValidationError("something new went wrong: 100%", "name", reason="brand_new", params={"x": 1})
    assert PageLanguage.of("de").message(refusal(exc)) == "something new went wrong: 100%"


# -- the core's reasons, and the flash cookie that carries them ------------------------------------------

SRC = Path(tokenguard.__file__).parent


def test_every_reason_the_core_gives_is_a_message_of_the_page_or_left_to_english() -> None:
    """One decision per reason, in ``refusals.MESSAGES``: a new reason in the core is seen here."""
    found: set[str] = set()
    for module in SRC.rglob("*.py"):
        found |= set(re.findall(r'reason="([a-z_]+)"', module.read_text()))
        found |= {f"rotate_{status}" for _ in re.findall(r'reason=f"rotate_\{status\}"', module.read_text())
                  for status in ("revoked", "expired")}
    assert found == {reason for _, reason in MESSAGES}


@pytest.mark.parametrize(("check", "reason", "params"), [
    (lambda: validation.name(" "), "empty", {}),
    (lambda: validation.name("n" * 101), "too_long", {"max": 100}),
    (lambda: validation.description("\u200bhidden"), "bad_character", {"character": "U+200B"}),
    (lambda: validation.token_id("Not Valid"), "id_pattern", {}),
    (lambda: validation.token_id("admin"), "id_reserved", {"id": "admin"}),
    (lambda: validation.projects(["ok", "not ok"]), "project_pattern", {}),
    (lambda: validation.networks(["10.1.2.3/8"]), "network_host_bits",
     {"network": "10.1.2.3/8", "meant": "10.0.0.0/8"}),
    (lambda: validation.networks(["office"]), "network_not_cidr", {"network": "office"}),
    (lambda: validation.networks([""]), "network_invalid", {}),
    (lambda: validation.expiry(START, timedelta(days=-1), None, None), "expiry_past", {}),
    (lambda: validation.expiry(START, timedelta(days=91), None, timedelta(days=90)), "expiry_beyond_max",
     {"lifetime": timedelta(days=90)}),
    (lambda: validation.expiry(START, None, None, timedelta(days=90)), "expiry_required",
     {"lifetime": timedelta(days=90)}),
])
def test_the_core_says_why_and_with_what(check: Any, reason: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        check()
    assert (refused.value.reason, refused.value.params) == (reason, params)
    assert str(refusal(refused.value)) != str(refused.value)  # the page's words, not the API's


def _cookie_request(set_cookie: tuple[str, str] | None = None) -> WebRequest:
    cookie = set_cookie[1].split(";", 1)[0] if set_cookie else ""
    return WebRequest("GET", "/", lambda name: [cookie] if name.lower() == "cookie" and cookie else [],
                      root=PAGE)


def test_a_flash_keeps_its_nested_message_and_lifetime_through_the_cookie() -> None:
    key = secrets.token_bytes(32)
    cookies = FlashCookies(key)
    why = Message(MESSAGES[(None, "expiry_beyond_max")], (("lifetime", timedelta(days=90)),))
    sent = Flash("error", REFUSED, (("name", ODD_NAME), ("reason", why)))
    taken, _ = cookies.take(_cookie_request(cookies.set(_cookie_request(), "alice", sent)), "alice")
    assert taken == sent
    assert PageLanguage.of("de").message(taken.message) == (
        f"„{ODD_NAME}“: Wählen Sie ein Ablaufdatum innerhalb der maximalen Gültigkeitsdauer (90 Tage).")


@pytest.mark.parametrize("params", [
    {"reason": {"m": "x", "p": {"y": {"m": "deeper", "p": {"z": {"m": "too deep", "p": {}}}}}}},
    {"reason": {"s": "90"}}, {"reason": ["a"]}, {"reason": {"m": 1, "p": {}}}, ["name"],
])
def test_a_flash_whose_values_cannot_be_read_is_dropped(params: Any) -> None:
    key = secrets.token_bytes(32)
    signed = URLSafeTimedSerializer(key, salt="tokenguard.flash").dumps(
        {"k": "error", "m": REFUSED, "o": owner_tag("alice"), "p": params})
    request = _cookie_request(("Set-Cookie", f"{FLASH_COOKIE}={signed}; Path=/"))
    taken, clear = FlashCookies(key).take(request, "alice")
    assert taken is None and clear

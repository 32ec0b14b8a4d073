"""Property-based tests (hypothesis) over every parser that sees untrusted input."""

from __future__ import annotations

import argparse
import re
import string
import unicodedata
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tokenguard import (
    AuthenticationError,
    InvalidToken,
    ScopeHierarchy,
    TokenGuard,
    ValidationError,
    validation,
)
from tokenguard.cli_commands import parse_duration
from tokenguard.errors import MalformedCredentials
from tokenguard.tokens import ALPHABET, RANDOM_LENGTH, checksum, generate, parse
from tokenguard.web.credentials import MAX_HEADER_LENGTH, read_token

KEY = "property-test-key-0123456789abcdefghijklmn"
PREFIXES = st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True)
BASE62 = st.text(alphabet=ALPHABET, min_size=RANDOM_LENGTH, max_size=RANDOM_LENGTH)
ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.binary(), st.text(),
    st.lists(st.text(), max_size=3), st.dictionaries(st.text(), st.text(), max_size=3),
    st.builds(bytearray, st.binary()), st.builds(memoryview, st.binary()),
)
TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/:]+=*")
#: Hypothesis times each example (200 ms by default): on a loaded machine that fails a
#: correct test, so no property here has a deadline.
NO_DEADLINE = settings(deadline=None)


def _valid(prefix: str, random_part: str) -> str:
    return f"{prefix}_{random_part}{checksum(random_part)}"


@st.composite
def near_tokens(draw: st.DrawFn) -> tuple[str, str]:
    """A valid token and a small edit of it: what typos and truncations look like."""
    token = _valid("tg", draw(BASE62))
    position = draw(st.integers(0, len(token)))
    edit = draw(st.sampled_from(["replace", "insert", "delete", "swap"]))
    char = draw(st.characters())
    if edit == "replace" and position < len(token):
        edited = token[:position] + char + token[position + 1 :]
    elif edit == "insert":
        edited = token[:position] + char + token[position:]
    elif edit == "delete" and position < len(token):
        edited = token[:position] + token[position + 1 :]
    elif edit == "swap" and position < len(token) - 1:
        edited = token[:position] + token[position + 1] + token[position] + token[position + 2 :]
    else:
        edited = token
    return token, edited


@given(st.text())
@example("tg_" + "0" * 38)
@example("secret-token:")
@example("tg_" + "\uff10" * 38)
@NO_DEADLINE
def test_parse_of_any_text_returns_a_token_or_raises_invalid_token(text: str) -> None:
    try:
        result = parse(text, "tg")
    except InvalidToken:
        return
    assert result == text.removeprefix("secret-token:")
    assert re.fullmatch(r"tg_[0-9A-Za-z]{38}", result)


@given(ANYTHING)
@NO_DEADLINE
def test_parse_of_any_object_raises_only_invalid_token(value: object) -> None:
    with pytest.raises(InvalidToken):
        parse(value, "tg")


@given(near_tokens())
@NO_DEADLINE
def test_an_edited_token_parses_only_if_unchanged(pair: tuple[str, str]) -> None:
    token, edited = pair
    try:
        result = parse(edited, "tg")
    except InvalidToken:
        assert edited != token
        return
    assert result == token  # a swap of two equal characters is no change


@given(PREFIXES, st.booleans())
@settings(NO_DEADLINE, max_examples=200)
def test_generate_parse_round_trip(prefix: str, with_scheme: bool) -> None:
    token = generate(prefix)
    assert re.fullmatch(rf"{prefix}_[0-9A-Za-z]{{38}}", token)
    presented = "secret-token:" + token if with_scheme else token
    assert parse(presented, prefix) == token


@given(BASE62, st.integers(0, RANDOM_LENGTH + 5), st.sampled_from(ALPHABET))
@NO_DEADLINE
def test_the_checksum_catches_any_single_substitution(random_part: str, position: int, char: str) -> None:
    token = _valid("tg", random_part)
    index = 3 + position
    assume(token[index] != char)
    with pytest.raises(InvalidToken):
        parse(token[:index] + char + token[index + 1 :], "tg")


@given(st.one_of(st.text(max_size=80), ANYTHING))
@settings(NO_DEADLINE, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_authenticate_raises_only_authentication_errors(value: object) -> None:
    guard = _guard()
    with pytest.raises(AuthenticationError):
        guard.authenticate(value)


_GUARD: list[TokenGuard] = []


def _guard() -> TokenGuard:
    if not _GUARD:
        _GUARD.append(TokenGuard("memory://", secret_key=KEY, load_entry_points=False))
    return _GUARD[0]


# -- credentials from headers (RFC 6750) -----------------------------------------------------------

HEADER_NAMES = st.sampled_from(["Authorization", "authorization", "Api-Token", "API-TOKEN", "X-Other"])
HEADER_VALUES = st.one_of(
    st.text(max_size=60),
    st.builds(lambda t: "Bearer " + t, st.text(max_size=60)),
    st.builds(lambda t: "bearer  " + t, st.text(alphabet=string.printable, max_size=60)),
    st.builds(lambda p, r: f"Bearer {_valid(p, r)}", PREFIXES, BASE62),
    st.builds(lambda r: _valid("tg", r), BASE62),
    st.sampled_from(["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "Bearer x=y", "Bearer \x00",
                     "Bearer " + "A" * (MAX_HEADER_LENGTH + 1), "Bearer\ttoken",
                     "Bearer \uff21\uff22\uff23"]),
)


@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4))
@settings(NO_DEADLINE, max_examples=500)
def test_read_token_returns_a_token_none_or_malformed_credentials(headers: list[tuple[str, str]]) -> None:
    def get_header(name: str) -> list[str]:
        return [value for key, value in headers if key.lower() == name.lower()]

    try:
        token = read_token(get_header)
    except MalformedCredentials:
        return
    if token is None:
        assert not [v for k, v in headers if k.lower() == "api-token"]
        return
    assert isinstance(token, str) and TOKEN68.fullmatch(token) and len(token) <= MAX_HEADER_LENGTH
    assert any(token in value for _, value in headers)


@given(HEADER_VALUES, HEADER_VALUES)
@NO_DEADLINE
def test_two_credentials_are_never_silently_merged(first: str, second: str) -> None:
    headers = {"api-token": [first, second]}
    with pytest.raises(MalformedCredentials):
        read_token(lambda name: headers.get(name.lower(), []))


# -- validation and configuration parsers -------------------------------------------------------------


@given(st.text(max_size=150))
@NO_DEADLINE
def test_name_validation_returns_clean_text_or_validation_error(text: str) -> None:
    try:
        name = validation.name(text)
    except ValidationError as exc:
        assert exc.field == "name"
        return
    assert 1 <= len(name) <= 100 and name == name.strip() and name in text
    refused = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
    assert not [c for c in name if unicodedata.category(c) in refused]


@given(st.one_of(st.text(max_size=80), ANYTHING))
@NO_DEADLINE
def test_token_id_validation(value: object) -> None:
    try:
        token_id = validation.token_id(value)
    except ValidationError:
        assert not validation.is_token_id(value)
        return
    assert re.fullmatch(r"[a-z0-9_-]{1,64}", token_id)


@given(st.text(max_size=30))
@example("99999999999d")
@example("0d")
@example("never")
@NO_DEADLINE
def test_cli_durations(text: str) -> None:
    try:
        value = parse_duration(text)
    except argparse.ArgumentTypeError:
        return
    assert value is None or (isinstance(value, timedelta) and value > timedelta(0))


@given(st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]),
    st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "zz"]), max_size=4),
    min_size=1,
))
@NO_DEADLINE
def test_scope_expansion_is_transitively_closed(spec: dict[str, list[str]]) -> None:
    try:
        scopes = ScopeHierarchy(spec)
    except ValidationError:
        assert any(implied not in spec for values in spec.values() for implied in values)
        return
    for name in spec:
        closure = scopes.expand(frozenset({name}))
        assert name in closure
        for implied in closure:
            assert scopes.expand(frozenset({implied})) <= closure
        assert set(spec[name]) <= closure

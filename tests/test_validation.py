"""The checks on every value a caller hands the core."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tokenguard import ValidationError, validation

NOW = datetime(2030, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize("char", [
    "\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\x85",  # C0, C1 controls
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # bidi embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c",  # isolates and marks
    "\u2028", "\u2029",  # line and paragraph separators
    "\ue000", "\U000f0000",  # private use
    "\U000e0001",  # language tag
])
def test_names_refuse_control_format_and_bidi_characters(char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validation.name(f"deploy{char}bot")
    assert caught.value.field == "name"
    assert f"U+{ord(char):04X}" in str(caught.value)


def test_every_refused_category_is_refused_by_name() -> None:
    refused = {"Cc", "Cf", "Zl", "Zp", "Co", "Cn"}
    samples = {}
    for code in range(0x20000):
        category = unicodedata.category(chr(code))
        if category in refused and category not in samples:
            samples[category] = chr(code)
    assert set(samples) == refused
    for char in samples.values():
        with pytest.raises(ValidationError):
            validation.name("a" + char + "b")  # inside: trailing whitespace would be trimmed


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValidationError):
        validation.name("half\ud83d")


def test_name_length_counts_after_trimming() -> None:
    assert validation.name(" " * 10 + "x" * 100 + " " * 10) == "x" * 100
    with pytest.raises(ValidationError, match="at most 100"):
        validation.name("x" * 101)
    with pytest.raises(ValidationError, match="empty"):
        validation.name("  ")


def test_ordinary_unicode_names_pass() -> None:
    for text in ("CI pipeline", "déploiement", "ビルド", "مفتاح", "emoji 🔑", "a-b_c.d (e)"):
        assert validation.name(text) == text


def test_owner_rules() -> None:
    assert validation.owner("user@example.com") == "user@example.com"
    assert validation.owner("x" * 255) == "x" * 255
    for bad in ("", "x" * 256, "a\u202eb", 7, None, b"bytes"):
        with pytest.raises(ValidationError) as caught:
            validation.owner(bad)
        assert caught.value.field == "owner"


def test_token_id_rules() -> None:
    for good in ("a", "abc-123_x", "0" * 64):
        assert validation.token_id(good) == good
        assert validation.is_token_id(good)
    for bad in ("", "A", "a" * 65, "a b", "a.b", "é", "a\n", "a\x00", None, 3, b"ab"):
        with pytest.raises(ValidationError) as caught:
            validation.token_id(bad)
        assert caught.value.field == "id"
        assert not validation.is_token_id(bad)


@pytest.mark.parametrize("route", ["admin", "static", "self", "secret-scanning", "revoke", "introspect"])
def test_the_web_layers_route_names_are_no_token_ids(route: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validation.token_id(route)
    assert caught.value.field == "id" and f"id '{route}' is reserved" in str(caught.value)
    assert validation.is_token_id(route)  # a token made before the reservation is still found
    assert validation.token_id(route + "-2") == route + "-2"


def test_projects() -> None:
    assert validation.projects(None) == frozenset()
    assert validation.projects([]) == frozenset()
    assert validation.projects(("alpha", "alpha", "team/beta", "v1.2:x")) == {"alpha", "team/beta", "v1.2:x"}
    assert validation.projects([f"p{i}" for i in range(50)]) == {f"p{i}" for i in range(50)}
    for bad in ("alpha", b"alpha", 5, ["-leading"], ["with space"], ["é"], [None], ["x" * 65],
                [f"p{i}" for i in range(51)]):
        with pytest.raises(ValidationError) as caught:
            validation.projects(bad)
        assert caught.value.field == "projects"


def test_lifetime() -> None:
    assert validation.lifetime(None, "f") is None
    assert validation.lifetime(timedelta(seconds=1), "f") == timedelta(seconds=1)
    for bad in (timedelta(0), timedelta(seconds=-5), 30, "30d"):
        with pytest.raises(ValidationError, match="f must be a positive timedelta"):
            validation.lifetime(bad, "f")


def test_expiry_relative_absolute_and_never() -> None:
    assert validation.expiry(NOW, timedelta(hours=2), None, None) == NOW + timedelta(hours=2)
    assert validation.expiry(NOW, None, None, None) is None
    when = NOW + timedelta(days=3)
    assert validation.expiry(NOW, None, when, None) == when
    other_zone = datetime(2030, 6, 1, 5, tzinfo=timezone(timedelta(hours=2)))
    assert validation.expiry(NOW, None, other_zone, None) == other_zone  # aware, any zone


def test_expiry_refusals() -> None:
    cases = [
        (timedelta(0), None, None, "future"),
        (timedelta(seconds=-1), None, None, "future"),
        (None, NOW, None, "future"),
        (None, NOW - timedelta(seconds=1), None, "future"),
        (None, datetime(2031, 1, 1), None, "timezone-aware"),
        (None, "2031-01-01", None, "timezone-aware"),
        ("30d", None, None, "timedelta"),
        (timedelta(days=1), NOW + timedelta(days=1), None, "not both"),
        (None, None, timedelta(days=1), "must expire"),
        (timedelta(days=1, seconds=1), None, timedelta(days=1), "maximum lifetime"),
        (timedelta(days=999_999_999), None, None, "too far"),
        (None, datetime.max.replace(tzinfo=UTC), timedelta(days=1), "maximum lifetime"),
    ]
    for expires_in, expires_at, max_lifetime, message in cases:
        with pytest.raises(ValidationError, match=message):
            validation.expiry(NOW, expires_in, expires_at, max_lifetime)


def test_expiry_at_exactly_max_lifetime_is_allowed() -> None:
    cap = timedelta(days=30)
    assert validation.expiry(NOW, cap, None, cap) == NOW + cap
    assert validation.expiry(NOW, None, NOW + cap, cap) == NOW + cap


def test_validation_error_is_a_value_error_with_a_field() -> None:
    with pytest.raises(ValueError):
        validation.token_id("BAD")
    error = ValidationError("bad thing", field="thing")
    assert (error.field, error.status_code, error.error_code) == ("thing", 400, "invalid_request")


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(days=30), "30 days"), (timedelta(days=1), "1 day"), (timedelta(hours=12), "12 hours"),
    (timedelta(minutes=90), "90 minutes"), (timedelta(seconds=45), "45 seconds"),
    (timedelta(days=1, seconds=1), "86401 seconds"),
])
def test_a_lifetime_reads_as_people_write_it(value: timedelta, text: str) -> None:
    from tokenguard.validation import span

    assert span(value) == text

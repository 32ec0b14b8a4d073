"""The token format, its offline checks, and the keyed hasher."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import pytest

from tokenguard import InvalidToken, MemoryStore, TokenGuard, TokenRecord, ValidationError
from tokenguard import tokens as fmt
from tokenguard.tokens import ALPHABET, BODY_LENGTH, Hasher, checksum, generate, hint, parse

KEY = "k" * 32
BASE62 = re.compile(r"[0-9A-Za-z]+")


@pytest.fixture
def token() -> str:
    return generate("tg")


def test_format_prefix_length_and_alphabet(token: str) -> None:
    prefix, sep, body = token.partition("_")
    assert (prefix, sep) == ("tg", "_")
    assert len(body) == 32 + 6 == BODY_LENGTH
    assert BASE62.fullmatch(body)
    assert body[32:] == checksum(body[:32])


def test_checksum_is_crc32_in_base62() -> None:
    import zlib

    random_part = "A" * 32
    value = 0
    for char in checksum(random_part):
        value = value * 62 + ALPHABET.index(char)
    assert value == zlib.crc32(random_part.encode())


def test_a_secret_scanner_pattern_finds_it(token: str) -> None:
    text = f"config: TOKEN={token} # leaked"
    assert re.findall(r"\btg_[0-9A-Za-z]{38}\b", text) == [token]


def test_every_single_character_substitution_is_detected() -> None:
    sample = [generate("tg") for _ in range(5)]
    checked = 0
    for token in sample:
        start = len("tg_")
        for position in range(start, len(token)):
            for replacement in ALPHABET:
                if replacement == token[position]:
                    continue
                typo = token[:position] + replacement + token[position + 1 :]
                with pytest.raises(InvalidToken):
                    parse(typo, "tg")
                checked += 1
    assert checked == 5 * 38 * 61


def test_secret_token_scheme_is_accepted_and_stripped(token: str) -> None:
    assert parse("secret-token:" + token, "tg") == token


def test_thousand_tokens_are_unique_and_parse() -> None:
    made = [generate("tg") for _ in range(1000)]
    assert len(set(made)) == 1000
    assert all(parse(t, "tg") == t for t in made)
    # 1000 x 32 random characters from 62: every symbol shows up.
    assert set("".join(t[3:35] for t in made)) == set(ALPHABET)


def test_custom_prefix_round_trip() -> None:
    token = generate("acme2")
    assert token.startswith("acme2_")
    assert parse(token, "acme2") == token
    with pytest.raises(InvalidToken):
        parse(token, "tg")


def test_hint_is_prefix_and_last_four(token: str) -> None:
    assert hint(token) == f"tg_…{token[-4:]}"
    assert token[3:-4] not in hint(token)


def _bad_tokens(good: str) -> dict[str, object]:
    digits_fullwidth = good[:-1] + chr(0xFF10 + int(good[-1])) if good[-1].isdigit() else good[:-1] + "\uff10"
    return {
        "foreign prefix": "gh" + good[2:],
        "longer foreign prefix": "ghp_" + good[3:],
        "truncated": good[:-1],
        "extended": good + "A",
        "bad checksum": good[:-6] + ("AAAAAA" if good[-6:] != "AAAAAA" else "BBBBBB"),
        "NUL": good[:-1] + "\x00",
        "NUL inside": good[:10] + "\x00" + good[11:],
        "non-ASCII": good[:-1] + "é",
        "full-width digit": digits_fullwidth,
        "missing separator": "tg-" + good[3:],
        "empty": "",
        "just the prefix": "tg_",
        "spaces": " " * len(good),
        "scheme only": "secret-token:",
        "scheme twice": "secret-token:secret-token:" + good,
        "None": None,
        "int": 12345,
        "bytes": good.encode(),
        "bytearray": bytearray(good.encode()),
        "list": [good],
        "1 MB string": "A" * 1_000_000,
        "1 MB with prefix": "tg_" + "A" * 1_000_000,
        "lone surrogate": good[:-1] + "\ud800",
    }


def test_bad_input_is_invalid_token_never_type_error(token: str) -> None:
    for label, bad in _bad_tokens(token).items():
        with pytest.raises(InvalidToken) as caught:
            parse(bad, "tg")
        assert type(caught.value) is InvalidToken, label
        assert token not in str(caught.value)


def test_bad_input_never_reaches_the_store(token: str) -> None:
    class CountingStore(MemoryStore):
        finds = 0

        def find(self, digest: str) -> TokenRecord | None:
            CountingStore.finds += 1
            return super().find(digest)

    guard = TokenGuard(CountingStore(), secret_key=KEY, load_entry_points=False)
    for bad in _bad_tokens(token).values():
        with pytest.raises(InvalidToken):
            guard.authenticate(bad)
    assert CountingStore.finds == 0
    with pytest.raises(InvalidToken):
        guard.authenticate(token)  # well-formed but unknown: one look-up
    assert CountingStore.finds == 1


# -- Hasher ------------------------------------------------------------------------------


def test_hasher_refuses_short_keys_with_a_clear_message() -> None:
    for key in ("x" * 31, b"y" * 31, "", b""):
        with pytest.raises(ValidationError) as caught:
            Hasher(key)
        assert caught.value.field == "secret_key"
        assert "32 bytes" in str(caught.value)
        assert "secrets.token_urlsafe" in str(caught.value)


def test_hasher_refuses_a_short_key_anywhere_in_the_list() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        Hasher(["a" * 32, "short"])
    with pytest.raises(ValidationError, match="required"):
        Hasher([])


def test_hasher_counts_bytes_not_characters() -> None:
    Hasher("é" * 16)  # 32 bytes in UTF-8
    with pytest.raises(ValidationError):
        Hasher("é" * 15)


def test_guard_refuses_short_key_at_construction() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        TokenGuard("memory://", secret_key="too-short", load_entry_points=False)


def test_digest_is_hmac_sha256_under_the_first_key(token: str) -> None:
    hasher = Hasher([b"n" * 32, b"o" * 32])
    expected = hmac.new(b"n" * 32, token.encode(), hashlib.sha256).hexdigest()
    assert hasher.digest(token) == expected
    second = hmac.new(b"o" * 32, token.encode(), hashlib.sha256).hexdigest()
    assert hasher.candidates(token) == [expected, second]
    assert hasher.checked_digest(token) == expected
    assert hasher.candidates(token, first="given") == ["given", second]  # not computed again
    assert token not in hasher.digest(token)


def test_str_and_bytes_keys_agree(token: str) -> None:
    assert Hasher("z" * 40).digest(token) == Hasher(b"z" * 40).digest(token)


def test_derived_keys_differ_by_purpose_and_from_the_key() -> None:
    hasher = Hasher("q" * 32)
    csrf, flash = hasher.derive("csrf"), hasher.derive("flash")
    assert len(csrf) == 32 and csrf != flash
    assert csrf == Hasher(["q" * 32, "r" * 32]).derive("csrf")
    assert csrf != Hasher("r" * 32).derive("csrf")


def test_key_rotation_old_tokens_still_verify() -> None:
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    store = MemoryStore()
    before = TokenGuard(store, secret_key=old_key, load_entry_points=False)
    old = before.create_token("alice", "made before rotation", scopes=["read"])

    after = TokenGuard(store, secret_key=[new_key, old_key], load_entry_points=False)
    assert after.authenticate(old.token).id == old.info.id
    new = after.create_token("alice", "made after rotation", scopes=["read"])
    assert after.authenticate(new.token).id == new.info.id
    # New tokens are hashed with the new key: a guard on the old key alone cannot verify them.
    with pytest.raises(InvalidToken):
        before.authenticate(new.token)
    # Dropping the old key retires the old tokens.
    only_new = TokenGuard(store, secret_key=new_key, load_entry_points=False)
    with pytest.raises(InvalidToken):
        only_new.authenticate(old.token)
    assert only_new.authenticate(new.token).id == new.info.id


def test_prefix_validation() -> None:
    for good in ("tg", "a", "acme9", "a" * 16):
        assert fmt.validate_prefix(good) == good
    for bad in ("", "Tg", "9a", "a" * 17, "t_g", "tg ", None, 5):
        with pytest.raises(ValidationError):
            fmt.validate_prefix(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [b"k" * 32, b"k" * 64, b"k" * 65, secrets.token_bytes(200), "ключ" * 10])
def test_digest_matches_the_standard_library_hmac_for_any_key_length(key: str | bytes, token: str) -> None:
    raw = key.encode() if isinstance(key, str) else key
    assert Hasher(key).digest(token) == hmac.new(raw, token.encode(), hashlib.sha256).hexdigest()


def test_a_text_key_is_read_without_the_whitespace_around_it() -> None:
    """As the CLI reads TOKENGUARD_SECRET_KEY; bytes are taken exactly."""
    key = "k" * 40
    token = generate("tg")
    assert Hasher(key + "\n").digest(token) == Hasher(f"  {key}\t").digest(token)
    assert Hasher(key).digest(token) == Hasher(key + "\n").digest(token)
    assert Hasher(key.encode() + b"\n").digest(token) != Hasher(key.encode()).digest(token)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Hasher(" " * 40)

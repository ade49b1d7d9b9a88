import pytest

from platform_server.security import (
    API_KEY_PREFIX,
    DecryptionError,
    Encryptor,
    constant_time_equals,
    display_prefix,
    generate_api_key,
    hash_token,
    random_token,
)


def test_api_keys_are_prefixed_random_and_long() -> None:
    keys = {generate_api_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(key.startswith(API_KEY_PREFIX) and len(key) >= len(API_KEY_PREFIX) + 43 for key in keys)
    key = next(iter(keys))
    assert key.startswith(display_prefix(key))
    assert len(display_prefix(key)) == len(API_KEY_PREFIX) + 8


def test_hash_is_stable_hex_and_hides_the_key() -> None:
    key = generate_api_key()
    assert hash_token(key) == hash_token(key)
    assert len(hash_token(key)) == 64
    assert key not in hash_token(key)
    assert hash_token(key) != hash_token(key + "x")


def test_random_token_length() -> None:
    assert len(random_token(32)) == 43
    assert random_token() != random_token()


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")
    assert constant_time_equals("é", "é")


class TestEncryptor:
    def test_round_trip_and_format(self) -> None:
        encryptor = Encryptor(["first-key"])
        token = encryptor.encrypt("gho_secret", "integrations.access_token:1")
        assert token.startswith(f"v1.{encryptor.current_key_id}.")
        assert "gho_secret" not in token
        assert "first-key" not in token
        assert encryptor.decrypt(token, "integrations.access_token:1") == "gho_secret"
        assert encryptor.encrypt("same") != encryptor.encrypt("same")

    def test_rotation_keeps_old_ciphertexts_readable(self) -> None:
        old = Encryptor(["old-key"])
        token = old.encrypt("value")
        rotated = Encryptor(["new-key", "old-key"])
        assert rotated.decrypt(token) == "value"
        assert rotated.key_id_of(rotated.encrypt("value")) == rotated.current_key_id != old.current_key_id
        with pytest.raises(DecryptionError):
            Encryptor(["new-key"]).decrypt(token)

    def test_associated_data_binds_the_ciphertext(self) -> None:
        encryptor = Encryptor(["key"])
        token = encryptor.encrypt("value", "row:1")
        with pytest.raises(DecryptionError):
            encryptor.decrypt(token, "row:2")

    @pytest.mark.parametrize(
        "mangle",
        [lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1], lambda t: "garbage", lambda t: "v2" + t[2:]],
    )
    def test_tampering_is_detected(self, mangle: object) -> None:
        encryptor = Encryptor(["key"])
        token = encryptor.encrypt("value")
        with pytest.raises(DecryptionError):
            encryptor.decrypt(mangle(token))  # type: ignore[operator]

    def test_needs_a_key(self) -> None:
        with pytest.raises(ValueError, match="at least one"):
            Encryptor([])

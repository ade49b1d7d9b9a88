"""API key hashing, encryption of secrets at rest, and opaque random tokens."""

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

API_KEY_PREFIX = "plat_"
API_KEY_DISPLAY_LENGTH = len(API_KEY_PREFIX) + 8


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 suffices: keys carry 256 random bits, so there is nothing for a slow hash to protect."""
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(api_key: str) -> str:
    return api_key[:API_KEY_DISPLAY_LENGTH]


def random_token(num_bytes: int = 32) -> str:
    return secrets.token_urlsafe(num_bytes)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class DecryptionError(Exception):
    pass


class Encryptor:
    """AES-256-GCM with a key id in every ciphertext, so old keys keep decrypting after a rotation.

    Format: ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``. The key id is a hash of the key, never
    the key. Associated data binds a ciphertext to its purpose (a column and row), so ciphertexts cannot be
    swapped between rows.
    """

    def __init__(self, secret_keys: list[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        self._keys: dict[str, AESGCM] = {}
        self._current_key_id = ""
        for index, secret in enumerate(secret_keys):
            key_id = hashlib.sha256(b"platform-key-id:" + secret.encode()).hexdigest()[:12]
            self._keys[key_id] = AESGCM(_derive_key(secret))
            if index == 0:
                self._current_key_id = key_id

    @property
    def current_key_id(self) -> str:
        return self._current_key_id

    def encrypt(self, plaintext: str, associated_data: str = "") -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current_key_id].encrypt(nonce, plaintext.encode(), associated_data.encode())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"v1.{self._current_key_id}.{payload}"

    def decrypt(self, token: str, associated_data: str = "") -> str:
        try:
            version, key_id, payload = token.split(".", 2)
        except ValueError as exc:
            raise DecryptionError("malformed ciphertext") from exc
        key = self._keys.get(key_id)
        if version != "v1" or key is None:
            raise DecryptionError(f"no key with id {key_id!r} is configured")
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        try:
            return key.decrypt(raw[:12], raw[12:], associated_data.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    def key_id_of(self, token: str) -> str:
        return token.split(".", 2)[1]


def _derive_key(secret: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"platform-secrets-at-rest").derive(secret.encode())

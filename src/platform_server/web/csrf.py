"""CSRF tokens for the settings page's forms: an HMAC of what ties the form to this browser.

Signed in, the binding is the session token (which only this browser holds, in an HttpOnly cookie); before
sign-in it is a random nonce in its own cookie, so the sign-in form is protected too. Nothing is stored.
"""

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from platform_server.security import constant_time_equals

# Before sign-in only: the nonce the sign-in form's token is bound to.
CSRF_NONCE_COOKIE = "platform_csrf"


class CsrfSigner:
    def __init__(self, secret_key: str) -> None:
        # A key of its own, so a CSRF token can never double as anything signed or encrypted elsewhere.
        self._key = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"platform-web-csrf").derive(
            secret_key.encode()
        )

    def token_for(self, binding: str, *, signed_in: bool) -> str:
        message = f"{'session' if signed_in else 'sign-in'}:{binding}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, binding: str | None, submitted: str | None, *, signed_in: bool) -> bool:
        if not binding or not submitted:
            return False
        return constant_time_equals(self.token_for(binding, signed_in=signed_in), submitted)

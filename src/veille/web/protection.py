"""Protection of the public form: CSRF tokens and a per-address rate limit.

The CSRF token is stateless: a random nonce, the time it was issued and an
HMAC of both under a per-process secret. The nonce is also set in a cookie
(double submit), so a page on another site cannot post a valid form. Tokens
are valid for two hours and do not survive a restart of the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

TOKEN_LIFETIME_S = 2 * 3600


class CsrfGuard:
    """Issues and checks form tokens."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def issue(self) -> tuple[str, str]:
        """A (token, cookie nonce) pair."""
        nonce = secrets.token_hex(16)
        payload = f"{nonce}:{int(time.time())}".encode()
        token = base64.urlsafe_b64encode(payload).decode() + "." + self._sign(payload)
        return token, nonce

    def check(self, token: str | None, cookie: str | None) -> bool:
        """Whether the token is ours, fresh and matches the cookie."""
        if not token or not cookie or "." not in token:
            return False
        encoded, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded.encode())
            nonce, issued = payload.decode().split(":")
            age = time.time() - int(issued)
        except (ValueError, UnicodeDecodeError):
            return False
        return (
            hmac.compare_digest(signature, self._sign(payload))
            and hmac.compare_digest(nonce, cookie)
            and 0 <= age <= TOKEN_LIFETIME_S
        )


class RateLimiter:
    """At most ``limit`` events per address in a sliding window of ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float = 3600.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Record an attempt from ``address``; False when it is over the limit."""
        now = time.monotonic()
        with self._lock:
            if len(self._events) > 100_000:
                self._events.clear()
            events = self._events.setdefault(address, deque())
            while events and now - events[0] > self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

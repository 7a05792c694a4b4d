"""An identity provider's signing keys from its JWKS URL, cached and chosen by `kid`.

PyJWT's PyJWKClient fetches and parses the key set (http/https only, no redirects, keys of
`use: sig` with a kid); this wraps it for the rules it does not keep:

- a kid the cache lacks refetches the set at most once per `refetch_interval` (however many
  tokens name unknown kids, the provider sees one request per interval);
- keys older than `max_age` are refetched in the background on their next use, so a key the
  provider removed stops verifying once that refetch is in;
- a failed fetch keeps the cached keys (a provider outage does not sign everyone out), and
  counts as an attempt, so an unreachable provider is not asked again before the interval;
- fetches run in a thread, one at a time, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time

import jwt
from jwt import PyJWK, PyJWKClient

log = logging.getLogger(__name__)

# A key set is public: a symmetric key in one (kty oct, HS*) would let anyone sign.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class KeyNotFound(Exception):
    """No key of this kid, after the refetch the interval allowed (or without one)."""


class JwksKeys:
    def __init__(
        self, url: str, *, refetch_interval: float, max_age: float, timeout: float
    ) -> None:
        # PyJWKClient's own cache would drop the keys when a refetch fails: off.
        self._client = PyJWKClient(url, cache_jwk_set=False, timeout=timeout)
        self.url = url
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None  # monotonic time of the last good fetch
        self._attempted_at: float | None = None  # ... of the last attempt, good or not
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self.fetches = 0  # attempts, for tests and logs

    async def key(self, kid: str) -> PyJWK:
        """The signing key of `kid`; KeyNotFound when the provider has none."""
        key = self._keys.get(kid)
        if key is not None and self._stale():
            # Refetch behind this request: a slow provider must not hold up known keys. The
            # request after it sees the new set (without the key, if the provider dropped it).
            if self._background is None or self._background.done():
                self._background = asyncio.create_task(
                    self._refresh(reason="keys older than max age", when=self._stale)
                )
            return key
        if key is None:
            await self._refresh(
                reason=f"unknown kid {kid[:64]!r}", when=lambda: kid not in self._keys
            )
            key = self._keys.get(kid)
        if key is None:
            raise KeyNotFound(kid)
        return key

    async def prefetch(self) -> None:
        """Fetch the set now (at startup), so the first tokens need not wait."""
        await self._refresh(reason="startup", when=lambda: True)

    def _stale(self) -> bool:
        return self._fetched_at is None or time.monotonic() - self._fetched_at > self.max_age

    def _may_attempt(self) -> bool:
        return (
            self._attempted_at is None
            or time.monotonic() - self._attempted_at >= self.refetch_interval
        )

    async def _refresh(self, *, reason: str, when: object) -> None:
        async with self._lock:
            # Another request may have fetched while this one waited for the lock.
            if not when() or not self._may_attempt():  # type: ignore[operator]
                return
            self._attempted_at = time.monotonic()
            self.fetches += 1
            try:
                keys = await asyncio.to_thread(self._client.get_signing_keys, True)
            # Unreachable, an HTTP error, not JSON, no usable keys: keep what we have.
            except (jwt.PyJWTError, ValueError, OSError) as exc:
                log.warning(
                    "jwks: fetching %s (%s) failed, keeping %d cached keys: %s",
                    self.url,
                    reason,
                    len(self._keys),
                    exc,
                )
                return
            self._keys = {
                k.key_id: k for k in keys if k.key_id and k.algorithm_name in ASYMMETRIC_ALGORITHMS
            }
            self._fetched_at = time.monotonic()
            log.info("jwks: fetched %d keys from %s (%s)", len(self._keys), self.url, reason)

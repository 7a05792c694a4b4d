"""Authentication: a JWT from a header, a query parameter or a cookie, to an Identity."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import HTTPConnection

from threadcast import ThreadcastError
from threadcast.config import Settings, allowed_roles, hs256_secret
from threadcast.db import Identity
from threadcast.jwks import JwksKeys, KeyNotFound
from threadcast.keys import public_key

MAX_TOKEN_BYTES = 8192
COOKIE_NAME = "threadcast_token"


class AuthError(ThreadcastError):
    """A request that did not prove who it is (401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the identity RLS sees, and when its token expires."""

    identity: Identity
    expires_at: float


def token_from(request: HTTPConnection, *, header_only: bool = False) -> str:
    """The bearer token: Authorization header, then access_token parameter, then cookie.

    `header_only` is for the REST API: a cookie rides along on a cross-site request and a
    query parameter ends up in logs and history, so only the stream (EventSource cannot set
    headers) accepts them."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("Authorization header must be 'Bearer <token>'")
        return value.strip()
    if header_only:
        raise AuthError("missing token: the REST API takes Authorization: Bearer <token> only")
    token = request.query_params.get("access_token") or request.cookies.get(COOKIE_NAME)
    if not token:
        raise AuthError("missing token: send Authorization: Bearer, access_token or a cookie")
    return token


MAX_SUB_CHARS = 255  # OpenID Connect's bound on `sub`


def claims_problem(claims: dict[str, Any]) -> str | None:
    """What in the claims PostgreSQL could not take as request.jwt.claims (jsonb): a NUL, an
    unpaired surrogate, NaN or Infinity. None when they will do."""
    pending: list[Any] = [claims]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "a claim holds a NUL character"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a claim holds an unpaired surrogate (not UTF-8)"
        elif isinstance(value, float) and not math.isfinite(value):
            return "a claim holds NaN or Infinity (not JSON)"
    return None


class Verifier:
    """Checks tokens against the configured keys: the HS256 secret, the PEM public key, the
    identity provider's JWKS. One per app (it holds the JWKS cache)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.roles = allowed_roles(settings)
        self.jwks = (
            JwksKeys(
                settings.jwks_url,
                refetch_interval=settings.jwks_refetch_interval_seconds,
                max_age=settings.jwks_max_age_seconds,
                timeout=settings.jwks_timeout_seconds,
            )
            if settings.jwks_url
            else None
        )

    async def principal(self, token: str, *, now: float | None = None) -> Principal:
        """Verify a token and return who it names; AuthError says what was wrong."""
        header = self._header(token)
        if self._from_jwks(header):
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise AuthError("token has no kid header, which picks its key from the JWKS")
            assert self.jwks is not None
            try:
                jwk = await self.jwks.key(kid)
            except KeyNotFound as exc:
                raise AuthError(
                    f"no key {kid[:64]!r} in the identity provider's key set (THREADCAST_JWKS_URL)"
                ) from exc
            return self._verify(token, jwk, [jwk.algorithm_name], now)
        return self.decode_static(token, now=now, header=header)

    def _from_jwks(self, header: dict[str, Any]) -> bool:
        """HS256 tokens take the secret; others the JWKS, unless a PEM key is configured too and
        the token names no kid."""
        if self.jwks is None or header.get("alg") == "HS256":
            return False
        return "kid" in header or not self.settings.jwt_public_key

    def decode_static(
        self, token: str, *, now: float | None = None, header: dict[str, Any] | None = None
    ) -> Principal:
        """Verify a token with the secret or the PEM key (no JWKS, no waiting)."""
        header = header if header is not None else self._header(token)
        settings = self.settings
        if header.get("alg") == "HS256" and (settings.jwt_secret or settings.demo):
            return self._verify(token, hs256_secret(settings), ["HS256"], now)
        if settings.jwt_public_key:
            key, algorithms = public_key(settings.jwt_public_key)
            return self._verify(token, key, algorithms, now)
        if settings.jwt_secret or settings.demo:
            return self._verify(token, hs256_secret(settings), ["HS256"], now)
        raise AuthError(f"invalid token: tokens signed with {header.get('alg')!r} are not accepted")

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError(f"token is longer than {MAX_TOKEN_BYTES} bytes")
        try:
            return jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc

    def _verify(self, token: str, key: Any, algorithms: list[str], now: float | None) -> Principal:
        settings = self.settings
        required = ["exp", "sub"]
        if settings.jwt_issuer is not None:
            required.append("iss")
        if settings.jwt_audience is not None:
            required.append("aud")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,  # never 'none', never an algorithm the key was not made for
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                options={"require": required, "verify_aud": settings.jwt_audience is not None},
                leeway=settings.jwt_leeway_seconds,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("token is not valid yet") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError(f"invalid token: its iss is not {settings.jwt_issuer!r}") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(f"invalid token: its aud is not {settings.jwt_audience!r}") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        except jwt.PyJWTError as exc:  # InvalidKeyError: the key cannot check this token
            raise AuthError(f"invalid token: {exc}") from exc
        if not isinstance(claims, dict):
            raise AuthError("invalid token: its claims are not a JSON object")
        role = claims.get("role", "authenticated")
        if not isinstance(role, str) or role not in self.roles:
            shown = role[:64] if isinstance(role, str) else role
            raise AuthError(
                f"role claim {shown!r} is not one this server lets tokens select"
                " (THREADCAST_ALLOWED_ROLES)"
            )
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_CHARS:
            raise AuthError(f"the sub claim must be text of 1 to {MAX_SUB_CHARS} characters")
        if problem := claims_problem(claims):
            raise AuthError(f"invalid token: {problem}")
        try:
            expires_at = float(claims["exp"])
        except (OverflowError, ValueError, TypeError) as exc:  # pyjwt took int(exp); 10**400 too
            raise AuthError("the exp claim must be a time in seconds") from exc
        if expires_at <= (now if now is not None else time.time()) - settings.jwt_leeway_seconds:
            raise AuthError("token has expired")
        return Principal(Identity.from_claims(claims, role), expires_at)


def decode(token: str, settings: Settings, *, now: float | None = None) -> Principal:
    """Verify a token with the secret or PEM key of `settings` (see Verifier)."""
    return Verifier(settings).decode_static(token, now=now)


async def authenticate(
    request: HTTPConnection, verifier: Verifier, *, header_only: bool = False
) -> Principal:
    return await verifier.principal(token_from(request, header_only=header_only))


def issue(settings: Settings, sub: uuid.UUID | str, *, ttl_seconds: int = 86400) -> str:
    """A token for `sub`, signed with the configured HS256 secret (demo and CLI use)."""
    now = time.time()
    # `exp` is whole seconds: rounding up makes the token live at least `ttl_seconds`.
    claims = {
        "sub": str(sub),
        "role": "authenticated",
        "iat": int(now),
        "exp": math.ceil(now) + ttl_seconds,
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, hs256_secret(settings), algorithm="HS256")

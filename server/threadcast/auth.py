"""Authentication: a JWT from a header, a query parameter or a cookie, to an Identity."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

import jwt
from starlette.requests import HTTPConnection

from threadcast import ThreadcastError
from threadcast.config import Settings, hs256_secret
from threadcast.db import Identity

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


def verification_key(settings: Settings) -> tuple[str, list[str]]:
    if settings.jwt_public_key:
        return settings.jwt_public_key, ["RS256", "ES256"]
    return hs256_secret(settings), ["HS256"]


def decode(token: str, settings: Settings, *, now: float | None = None) -> Principal:
    """Verify a token and return who it names; AuthError says what was wrong."""
    if len(token) > MAX_TOKEN_BYTES:
        raise AuthError(f"token is longer than {MAX_TOKEN_BYTES} bytes")
    key, algorithms = verification_key(settings)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,  # never 'none', never an algorithm the key was not made for
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub"], "verify_aud": settings.jwt_audience is not None},
            leeway=settings.jwt_leeway_seconds,
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise AuthError("token is not valid yet") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    role = claims.get("role", "authenticated")
    if role != "authenticated":
        raise AuthError(f"unsupported role claim {role!r}: expected 'authenticated'")
    try:
        sub = uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise AuthError("the sub claim must be a user uuid") from exc
    try:
        expires_at = float(claims["exp"])
    except (OverflowError, ValueError, TypeError) as exc:  # pyjwt took int(exp); 10**400 too
        raise AuthError("the exp claim must be a time in seconds") from exc
    if expires_at <= (now if now is not None else time.time()) - settings.jwt_leeway_seconds:
        raise AuthError("token has expired")
    return Principal(Identity(sub=sub, role=role), expires_at)


def authenticate(
    request: HTTPConnection, settings: Settings, *, header_only: bool = False
) -> Principal:
    return decode(token_from(request, header_only=header_only), settings)


def issue(settings: Settings, sub: uuid.UUID, *, ttl_seconds: int = 86400) -> str:
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

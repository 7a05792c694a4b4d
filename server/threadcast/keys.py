"""THREADCAST_JWT_PUBLIC_KEY: a PEM public key, loaded once, with the algorithm it verifies."""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PUBLIC_KEY_ALGORITHMS: dict[type, list[str]] = {
    rsa.RSAPublicKey: ["RS256"],
    ed25519.Ed25519PublicKey: ["EdDSA"],
}
EC_ALGORITHMS = {"secp256r1": ["ES256"], "secp384r1": ["ES384"]}


@functools.cache
def public_key(pem: str) -> tuple[object, list[str]]:
    """THREADCAST_JWT_PUBLIC_KEY loaded, with the one algorithm its type signs with (so an
    RSA key never verifies an ES256 token, nor the reverse)."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ValueError(f"THREADCAST_JWT_PUBLIC_KEY is not a PEM public key: {exc}") from exc
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_ALGORITHMS:
        return key, EC_ALGORITHMS[key.curve.name]
    for kind, algorithms in PUBLIC_KEY_ALGORITHMS.items():
        if isinstance(key, kind):
            return key, algorithms
    raise ValueError("THREADCAST_JWT_PUBLIC_KEY: use an RSA, EC P-256/P-384 or Ed25519 public key")

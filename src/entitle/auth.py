"""Who is calling: management API keys and end-user JWTs (contract §2). One path for both.

API keys are random 256-bit secrets, so a fast SHA-256 of the secret is what is stored and
looked up (a slow password hash buys nothing against a secret that cannot be guessed).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from entitle.db.engine import Database
from entitle.db.repositories import api_keys
from entitle.domain.errors import Unauthenticated
from entitle.settings import Settings

API_KEY_PREFIX = "ent_"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["MANAGEMENT", "USER"]
    name: str | None
    read_only: bool = False
    tenant_key: str | None = None
    user_key: str | None = None

    @property
    def is_management(self) -> bool:
        return self.kind == "MANAGEMENT"

    @property
    def actor(self) -> str:
        """Who a change names (contract §9): the key's name, or ``user:<userKey>`` for a user token."""
        if self.is_management:
            return self.name or ""
        return f"user:{self.user_key}"


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key_secret() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


async def create_api_key(
    database: Database, name: str, *, read_only: bool = False, secret: str | None = None
) -> str:
    """Store a key and return its secret (shown once). With ``secret`` given, idempotent."""
    secret = secret or new_api_key_secret()
    await api_keys.add_if_absent(database, name, hash_api_key(secret), read_only=read_only)
    return secret


async def count_api_keys(database: Database) -> int:
    return await api_keys.count(database)


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Principal` or raises ``Unauthenticated``."""

    _MAX_CACHED_TOKENS = 50_000
    _MAX_CACHED_KEYS = 10_000

    def __init__(self, settings: Settings, database: Database) -> None:
        self._database = database
        self._tenant_claim = settings.entitle_tenant_claim
        self._audience = settings.entitle_jwt_audience
        self._issuer = settings.entitle_jwt_issuer
        self._jwt_key: Any
        self._jwt_algorithms: list[str]
        if settings.entitle_jwt_public_key:
            self._jwt_key, self._jwt_algorithms = _public_key(settings.entitle_jwt_public_key)
        elif settings.entitle_jwt_secret:
            self._jwt_key = settings.entitle_jwt_secret
            self._jwt_algorithms = ["HS256"]
        else:
            self._jwt_key = None
            self._jwt_algorithms = []
        # Keys cannot be deleted through the API, so a found key stays valid for the process's life.
        self._keys: dict[str, Principal] = {}
        self._tokens: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("missing Authorization header: send 'Authorization: Bearer <token>'")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        if token.count(".") == 2 and not token.startswith(API_KEY_PREFIX):
            return self._verify_jwt(token)
        return await self._verify_api_key(token)

    async def _verify_api_key(self, secret: str) -> Principal:
        digest = hash_api_key(secret)
        principal = self._keys.get(digest)
        if principal is not None:
            return principal
        stored = await api_keys.by_hash(self._database, digest)
        if stored is None:
            raise Unauthenticated("invalid API key")
        principal = Principal(kind="MANAGEMENT", name=stored.name, read_only=stored.read_only)
        if len(self._keys) >= self._MAX_CACHED_KEYS:  # only keys found are kept, but bounded all the same
            self._keys.clear()
        self._keys[digest] = principal
        return principal

    def _verify_jwt(self, token: str) -> Principal:
        cached = self._tokens.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        if self._jwt_key is None:
            raise Unauthenticated("user tokens are not enabled on this server")
        try:
            claims = jwt.decode(
                token,
                self._jwt_key,
                algorithms=self._jwt_algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid token: {_describe(exc)}") from None
        except jwt.PyJWTError:  # e.g. InvalidKeyError: a key that does not fit the header's algorithm
            raise Unauthenticated("invalid token: malformed or unverifiable") from None
        for claim in _NUMERIC_DATES:
            value = claims.get(claim)
            if claim in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                # PyJWT reads a string exp/nbf/iat with int(): RFC 7519 says a NumericDate is a number.
                raise Unauthenticated(f"invalid token: '{claim}' must be a number (seconds since the epoch)")
        sub = claims.get("sub")
        tenant = claims.get(self._tenant_claim)
        if not isinstance(sub, str) or not sub or (tenant is not None and not isinstance(tenant, str)):
            raise Unauthenticated("invalid token: 'sub' and the tenant claim must be strings")
        principal = Principal(kind="USER", name=sub, tenant_key=tenant or None, user_key=sub)
        if len(self._tokens) >= self._MAX_CACHED_TOKENS:
            self._tokens.clear()
        self._tokens[token] = (principal, float(claims["exp"]))
        return principal


_NUMERIC_DATES = ("exp", "nbf", "iat")


def _public_key(pem: str) -> tuple[Any, list[str]]:
    """The configured PEM key and the one algorithm it verifies (RS256 for RSA, ES256 for P-256).

    One algorithm per key: a token whose header names another algorithm is refused as a bad token
    instead of reaching PyJWT with a key of the wrong type.
    """
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError("ENTITLE_JWT_PUBLIC_KEY is not a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey):
        return key, ["RS256"]
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key, ["ES256"]
    raise ValueError("ENTITLE_JWT_PUBLIC_KEY must be an RSA key (RS256) or a P-256 EC key (ES256)")


def _describe(exc: jwt.InvalidTokenError) -> str:
    """A short reason that never echoes key material."""
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "algorithm not allowed"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim '{exc.claim}'"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not yet valid"
    return "malformed or unverifiable"

"""Who may use the codec server (docs/contract.md, "Sealed payloads").

`CODEC_AUTH` names the method: `none` (loopback only, `make run`), `token:<secret>` (one
shared secret, for a service such as the `temporal` CLI in a job) or
`oidc:<issuer URL> <audience>` (an operator's access token: signed by a key the issuer
publishes, issued by it to this audience, in date, and holding a role that allows reading).
Each check returns the caller's identity, which the audit line names.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import jwt

from models.common import is_loopback

SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class AuthError(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Identity:
    """Who called (the token's subject, or the method where there is no person), and
    whether they may read (`/decode`) and write (`/encode`: seal an input for a dossier)."""

    subject: str
    method: str
    may_read: bool = True
    may_write: bool = True

    def check(self, operation: str) -> None:
        allowed = self.may_write if operation == "encode" else self.may_read
        if not allowed:
            verb = "write (encode)" if operation == "encode" else "read (decode)"
            raise AuthError(HTTPStatus.FORBIDDEN, f"no role allowing to {verb}")


Authorizer = Callable[[str | None], Identity]
ANONYMOUS = Identity("anonymous", "none")


def no_auth(header: str | None) -> Identity:
    return ANONYMOUS


def token_auth(secret: str) -> Authorizer:
    expected = f"Bearer {secret}".encode()

    def check(header: str | None) -> Identity:
        if not header:
            raise AuthError(HTTPStatus.UNAUTHORIZED, "missing Authorization header")
        if not hmac.compare_digest(header.encode(), expected):
            raise AuthError(HTTPStatus.FORBIDDEN, "invalid token")
        return Identity("token", "token")

    return check


def claimed_roles(claims: dict[str, Any], claim: str) -> set[str]:
    """The roles a token holds under `claim`, a dotted path (`realm_access.roles` for
    Keycloak, `roles` for Entra ID, `groups` for Okta): a list, or a space-separated string."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, list):
        return {role for role in value if isinstance(role, str)}
    return set()


def oidc_auth(
    issuer: str,
    audience: str,
    *,
    read_roles: Collection[str],
    role_claim: str,
    write_roles: Collection[str] = (),
) -> Authorizer:
    """Verify a bearer JWT issued for this audience, and what its roles allow."""
    issuer = issuer.rstrip("/")
    keys: dict[str, jwt.PyJWKClient] = {}
    lock = threading.Lock()

    def jwks() -> jwt.PyJWKClient:
        with lock:
            if "client" not in keys:
                with urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as answer:
                    discovery = json.load(answer)
                keys["client"] = jwt.PyJWKClient(discovery["jwks_uri"], timeout=10)
            return keys["client"]

    def check(header: str | None) -> Identity:
        if not header or not header.startswith("Bearer "):
            raise AuthError(HTTPStatus.UNAUTHORIZED, "missing bearer token")
        token = header.removeprefix("Bearer ").strip()
        try:
            key = jwks().get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=SIGNING_ALGORITHMS,
                issuer=issuer,
                audience=audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, OSError, KeyError, ValueError) as error:
            refused = f"token refused: {type(error).__name__}"
            raise AuthError(HTTPStatus.FORBIDDEN, refused) from None
        roles = claimed_roles(claims, role_claim)
        may_read, may_write = bool(roles & set(read_roles)), bool(roles & set(write_roles))
        if not (may_read or may_write):
            raise AuthError(
                HTTPStatus.FORBIDDEN,
                f"token refused: no role allowing to read in claim {role_claim!r}",
            )
        return Identity(str(claims["sub"]), "oidc", may_read, may_write)

    return check


def host_is_loopback(header: str | None) -> bool:
    """A Host header naming this machine's loopback (a DNS-rebound name does not)."""
    if not header:
        return False
    name = urlsplit(f"//{header}").hostname
    return name is not None and is_loopback(name)


def authorizer(
    spec: str | None,
    host: str,
    *,
    local_default: bool,
    read_roles: Collection[str] = ("dossiers-read",),
    role_claim: str = "roles",
    write_roles: Collection[str] = ("dossiers-write",),
) -> Authorizer:
    """`CODEC_AUTH` read: `none` only on loopback; unset means `none` under `make run`."""
    if spec is None:
        if not local_default:
            raise ValueError("CODEC_AUTH is required outside `make run`")
        spec = "none"
    kind, _, value = spec.partition(":")
    if kind == "none":
        if not is_loopback(host):
            raise ValueError(f"CODEC_AUTH=none listens on loopback only, not on {host}")
        return no_auth
    if kind == "token" and value:
        return token_auth(value)
    if kind == "oidc":
        issuer, _, audience = value.strip().partition(" ")
        parts = urlsplit(issuer)
        local = parts.scheme == "http" and is_loopback(parts.hostname or "")
        if parts.scheme != "https" and not local:
            raise ValueError("CODEC_AUTH=oidc: the issuer must be an https:// URL")
        if not audience.strip():
            raise ValueError(
                "CODEC_AUTH=oidc: name the audience the tokens are issued for "
                "(oidc:<issuer URL> <audience>)"
            )
        if not read_roles:
            raise ValueError("CODEC_READ_ROLES: name at least one role allowed to read")
        return oidc_auth(
            issuer,
            audience.strip(),
            read_roles=read_roles,
            role_claim=role_claim,
            write_roles=write_roles,
        )
    raise ValueError("CODEC_AUTH must be none, token:<secret> or oidc:<issuer URL> <audience>")

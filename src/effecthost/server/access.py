"""Who may do what: the admin token, the resolve token and named tokens with a role.

Roles are ordered: a ``viewer`` reads (listings, a turn's timeline, the inbox, the change feed); a
``resolver`` also resolves waits (a support person approving); an ``admin`` also acts on turns
and sessions (start, cancel, resume, fork, cancel waits, revoke, retire). The admin token is an
admin called ``admin``; the resolve token (webhooks) may only resolve and peek, as ``webhook``.

A bearer is compared with every configured secret, each in constant time and without stopping at
the first match, so neither which token nor how much of it matched shows in the timing. The name
of whoever acted is recorded with a resolution; no secret is ever shown back.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from .. import EffectHostError, ErrorCode
from .errors import ApiError

ROLES = ("viewer", "resolver", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
ADMIN_NAME, WEBHOOK_NAME = "admin", "webhook"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str  # one of ROLES, or "webhook" (resolve and peek only)


def _secret(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class Access:
    def __init__(
        self,
        admin_token: str | None,
        resolve_token: str | None,
        tokens: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self._known: list[tuple[bytes, Principal]] = []
        if admin_token is not None:
            self._known.append((_secret(admin_token), Principal(ADMIN_NAME, "admin")))
        for name, (role, secret) in sorted((tokens or {}).items()):
            check_token(name, role, secret)
            self._known.append((_secret(secret), Principal(name, role)))
        self.resolve_token = None if resolve_token is None else _secret(resolve_token)
        self.operators = any(p.role in _RANK for _, p in self._known)

    def identify(self, given: str | None) -> Principal | None:
        """The principal whose secret is ``given``; every secret is compared, in constant time."""
        if given is None:
            return None
        raw = _secret(given)
        found: Principal | None = None
        for secret, principal in self._known:
            if hmac.compare_digest(raw, secret) and found is None:
                found = principal
        webhook = self.resolve_token is not None and hmac.compare_digest(raw, self.resolve_token)
        if found is None and webhook:
            found = Principal(WEBHOOK_NAME, WEBHOOK_NAME)
        return found


def check_token(name: object, role: object, secret: object) -> None:
    if not isinstance(name, str) or not name.strip() or name in (ADMIN_NAME, WEBHOOK_NAME):
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            f"a token's name is a non-empty string other than {ADMIN_NAME!r} and {WEBHOOK_NAME!r}",
        )
    if role not in _RANK:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, f"token {name!r}: role must be one of {', '.join(ROLES)}"
        )
    if not isinstance(secret, str) or len(secret.strip()) < 16:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, f"token {name!r}: the secret must be a string of 16+ characters"
        )


def load_tokens(path: str) -> dict[str, tuple[str, str]]:
    """A tokens file: ``{"<name>": {"role": "viewer|resolver|admin", "token": "<secret>"}, ...}``."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, f"cannot read tokens file {path}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, f"{path}: the tokens file is a JSON object")
    out: dict[str, tuple[str, str]] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != {"role", "token"}:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID, f"{path}: token {name!r} needs exactly role and token"
            )
        check_token(name, entry["role"], entry["token"])
        out[name] = (entry["role"], entry["token"])
    return out


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def access_of(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


def require(request: Request, role: str) -> Principal:
    """The caller, when its token has ``role`` or a higher one; 401 without a known token, 403
    with a token whose role is too low, 403 ``admin_disabled`` when no operator token exists."""
    access = access_of(request)
    if not access.operators:
        raise ApiError(403, "admin_disabled", "admin operations are disabled: no admin token configured")
    principal = access.identify(bearer(request))
    if principal is None or principal.role not in _RANK:
        raise ApiError(401, "unauthorized", "admin operations need Authorization: Bearer <admin token>")
    if _RANK[principal.role] < _RANK[role]:
        raise _forbidden(principal, role)
    return principal


def _forbidden(principal: Principal, role: str) -> ApiError:
    message = f"token {principal.name!r} has the role {principal.role}; this needs {role}"
    return ApiError(403, "forbidden", message)


def require_resolver(request: Request) -> Principal:
    """Resolve and peek: with a resolve token configured, it (as ``webhook``) or an operator token
    of role resolver or admin; without one, anybody holding the signed key (``webhook``), except
    that a presented operator token must carry the role (a viewer's token is refused)."""
    access = access_of(request)
    given = bearer(request)
    principal = access.identify(given)
    if principal is not None and principal.role == WEBHOOK_NAME:
        return principal
    if principal is not None:
        if _RANK[principal.role] < _RANK["resolver"]:
            raise _forbidden(principal, "resolver")
        return principal
    if access.resolve_token is not None:
        raise ApiError(401, "unauthorized", "resolving needs Authorization: Bearer <resolve token>")
    return Principal(WEBHOOK_NAME, WEBHOOK_NAME)

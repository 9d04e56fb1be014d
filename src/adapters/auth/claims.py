"""What a verified token must claim, and the principal it speaks for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.errors import ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry

from domain.errors import NotAuthenticated
from domain.workers import Principal

COGNITO_GROUPS = "cognito:groups"
COGNITO_USERNAME = "cognito:username"
FALLBACK_USERNAME_CLAIMS = ("username", "sub")


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """The claim checks of one deployment.

    `client_id`: a Cognito app client; accepted in `aud` (id tokens) or `client_id` (access
    tokens). `token_use`: the accepted values of the `token_use` claim (None: not checked).
    `leeway`: seconds of clock skew tolerated on exp/nbf/iat.
    """

    issuer: str | None = None
    audience: str | None = None
    client_id: str | None = None
    token_use: frozenset[str] | None = None
    groups_claim: str = COGNITO_GROUPS
    username_claim: str = COGNITO_USERNAME
    leeway: int = 30


def principal_from(claims: Mapping[str, Any], rules: ClaimRules) -> Principal:
    """The principal of a token whose signature was verified; NotAuthenticated otherwise."""
    _check_registered(claims, rules)
    _check_client(claims, rules.client_id)
    _check_token_use(claims, rules.token_use)
    return Principal(username=_username(claims, rules), groups=_groups(claims, rules))


def _check_registered(claims: Mapping[str, Any], rules: ClaimRules) -> None:
    registry = JWTClaimsRegistry(
        leeway=rules.leeway,
        exp={"essential": True},
        iss=_required(rules.issuer),
        aud=_required(rules.audience),
    )
    try:
        registry.validate(dict(claims))
    except ExpiredTokenError as exc:
        raise NotAuthenticated("token expired") from exc
    except MissingClaimError as exc:
        raise NotAuthenticated(f"token lacks the {exc.claim!r} claim") from exc
    except JoseError as exc:
        raise NotAuthenticated(f"token rejected: {exc.description}") from exc


def _required(value: str | None) -> ClaimsOption:
    """An essential claim with this exact value (a list claim: containing it); {} = unchecked."""
    return {} if value is None else {"essential": True, "value": value}


def _check_client(claims: Mapping[str, Any], client_id: str | None) -> None:
    if client_id is None:
        return
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences and claims.get("client_id") != client_id:
        raise NotAuthenticated("token was issued for another client")


def _check_token_use(claims: Mapping[str, Any], accepted: frozenset[str] | None) -> None:
    if accepted is not None and claims.get("token_use") not in accepted:
        wanted = " or ".join(sorted(accepted))
        raise NotAuthenticated(f"token_use must be {wanted}")


def _username(claims: Mapping[str, Any], rules: ClaimRules) -> str:
    for name in (rules.username_claim, *FALLBACK_USERNAME_CLAIMS):
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value
    raise NotAuthenticated(f"token has no username ({rules.username_claim}, username or sub)")


def _groups(claims: Mapping[str, Any], rules: ClaimRules) -> frozenset[str]:
    value = claims.get(rules.groups_claim)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, list) and all(isinstance(group, str) for group in value):
        return frozenset(value)
    raise NotAuthenticated(f"malformed {rules.groups_claim!r} claim: expected a list of names")

"""API-key authentication for the REST API, with scopes checked per route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from veille.intake.credentials import Principal, check_api_key
from veille.web.state import app_state

_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An agency API key (vk_...)."
)
_bearer = HTTPBearer(auto_error=False, description="The same key as a Bearer token.")


def require_scope(scope: str) -> Callable[..., Principal]:
    """A dependency that authenticates the key and checks it has ``scope``."""

    def dependency(
        request: Request,
        key: Annotated[str | None, Security(_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> Principal:
        if bearer is None and request.headers.get("Authorization") is not None:
            # Not silently ignored (even beside a good X-API-Key): a client sending a
            # malformed credential should learn so.
            raise HTTPException(
                401,
                detail=[{"field": "Authorization", "reason": "expected Bearer and an API key"}],
                headers={"WWW-Authenticate": "Bearer"},
            )
        secret = key or (bearer.credentials if bearer else None)
        if not secret:
            raise HTTPException(
                401,
                detail=[{"field": "X-API-Key", "reason": "an API key is required"}],
                headers={"WWW-Authenticate": "Bearer"},
            )
        with app_state(request).database.session() as session:
            principal = check_api_key(session, secret)
        if principal is None:
            raise HTTPException(
                401,
                detail=[{"field": "X-API-Key", "reason": "unknown or revoked API key"}],
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope not in principal.scopes:
            raise HTTPException(
                403, detail=[{"field": "X-API-Key", "reason": f"this key lacks the scope {scope}"}]
            )
        return principal

    return dependency


def principal_dependency(scope: str) -> object:
    """``Depends`` on :func:`require_scope` (for route signatures)."""
    return Depends(require_scope(scope))

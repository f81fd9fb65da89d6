"""What every REST router shares: the caller, the database, the one error shape.

Routers find the database in ``request.app.state.veille.database`` and
authenticate an API key with the check the app installed with
:func:`use_api_keys` (the web app installs the intake capability's keys).
Errors have one shape, ``{"detail": [{"field": ..., "reason": ...}]}``
(:class:`ProblemList`); :func:`problem_responses` documents them in OpenAPI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy.orm import Session

from veille.store.db import Database
from veille.store.reports import Viewer

READ_SCOPE = "reports:read"
WRITE_SCOPE = "reports:write"
ADMIN_SCOPE = "admin"


class Principal(Protocol):
    """A machine client after authentication."""

    @property
    def actor(self) -> str: ...
    @property
    def agency_id(self) -> int: ...
    @property
    def scopes(self) -> Collection[str]: ...


KeyCheck = Callable[[Session, str], Principal | None]
"""``check(session, secret)``: who holds the API key ``secret``, or ``None``."""


def use_api_keys(app: FastAPI, check: KeyCheck) -> None:
    """Have ``app``'s routes authenticate API keys with ``check``."""
    app.state.api_key_check = check


_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An agency API key (vk_...)."
)
_bearer = HTTPBearer(auto_error=False, description="The same key as a Bearer token.")


def _unauthorised(field: str, reason: str) -> HTTPException:
    return HTTPException(
        401, detail=[{"field": field, "reason": reason}], headers={"WWW-Authenticate": "Bearer"}
    )


def api_database(request: Request) -> Database:
    """The database of the app serving the request."""
    state = getattr(request.app.state, "veille", None)
    database = getattr(state, "database", None) or getattr(request.app.state, "database", None)
    if database is None:
        raise HTTPException(500, detail="the app has no database configured")
    return database


def require_scope(scope: str, check: KeyCheck | None = None) -> Callable[..., Principal]:
    """A dependency that authenticates the key and checks it has ``scope``.

    Keys are checked with ``check`` if given, else with the app's (:func:`use_api_keys`).
    """

    def dependency(
        request: Request,
        key: Annotated[str | None, Security(_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> Principal:
        if bearer is None and request.headers.get("Authorization") is not None:
            # Not silently ignored (even beside a good X-API-Key): a client sending a
            # malformed credential should learn so.
            raise _unauthorised("Authorization", "expected Bearer and an API key")
        secret = key or (bearer.credentials if bearer else None)
        if not secret:
            raise _unauthorised("X-API-Key", "an API key is required")
        key_check: KeyCheck | None = check or getattr(request.app.state, "api_key_check", None)
        if key_check is None:
            raise HTTPException(500, detail="the app checks no API keys (see use_api_keys)")
        with api_database(request).session() as session:
            principal = key_check(session, secret)
        if principal is None:
            raise _unauthorised("X-API-Key", "unknown or revoked API key")
        if scope not in principal.scopes:
            raise HTTPException(
                403, detail=[{"field": "X-API-Key", "reason": f"this key lacks the scope {scope}"}]
            )
        return principal

    return dependency


def principal_dependency(scope: str, check: KeyCheck | None = None) -> object:
    """``Depends`` on :func:`require_scope` (for route signatures)."""
    return Depends(require_scope(scope, check))


def viewer_with_scope(
    request: Request,
    key: str | None,
    bearer: HTTPAuthorizationCredentials | None,
    scope: str,
) -> Viewer:
    """Authenticate the key (header or bearer), require ``scope``: the agency as a viewer."""
    principal = require_scope(scope)(request, key, bearer)
    return Viewer(actor=principal.actor, agency_id=principal.agency_id)


def api_reader(
    request: Request,
    key: Annotated[str | None, Security(_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Viewer:
    """The agency reading (an API key with scope ``reports:read``)."""
    return viewer_with_scope(request, key, bearer, READ_SCOPE)


def api_writer(
    request: Request,
    key: Annotated[str | None, Security(_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Viewer:
    """The agency acting (an API key with scope ``reports:write``)."""
    return viewer_with_scope(request, key, bearer, WRITE_SCOPE)


def api_admin(
    request: Request,
    key: Annotated[str | None, Security(_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Viewer:
    """The caller of an administrative route (an API key with scope ``admin``)."""
    return viewer_with_scope(request, key, bearer, ADMIN_SCOPE)


DatabaseDep = Annotated[Database, Depends(api_database)]
ReaderDep = Annotated[Viewer, Depends(api_reader)]
WriterDep = Annotated[Viewer, Depends(api_writer)]
AdminDep = Annotated[Viewer, Depends(api_admin)]


class Problem(BaseModel):
    """One thing wrong with a request."""

    field: str
    reason: str
    line: int | None = None


class ProblemList(BaseModel):
    """Why a request was refused."""

    detail: list[Problem]


def problem(status: int, field: str, reason: str) -> HTTPException:
    """An error in the one shape: ``{"detail": [{"field": field, "reason": reason}]}``."""
    return HTTPException(status, detail=[{"field": field, "reason": reason}])


def not_found(message: str) -> HTTPException:
    """A 404 in the one error shape."""
    return problem(404, "path", message)


_PROBLEMS: dict[int, str] = {
    400: "The body cannot be read (not JSON, not UTF-8).",
    401: "No API key, or an unknown or revoked one.",
    403: "The key lacks the scope this operation needs.",
    404: "No such record, or none your agency may see.",
    408: "The body did not arrive in time (VEILLE_BODY_CHUNK_TIMEOUT_S, "
    "VEILLE_BODY_TOTAL_TIMEOUT_S).",
    409: "The request conflicts with what is stored (an id already used for other content, "
    "a move the queue does not allow).",
    413: "The body is over its size limit (VEILLE_MAX_API_BODY_BYTES; VEILLE_MAX_JSON_BYTES "
    "for bulk).",
    422: "A field is wrong; each problem names it.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for refusals, all answered as a :class:`ProblemList`."""
    return {status: {"model": ProblemList, "description": _PROBLEMS[status]} for status in statuses}


# What any /api/v1 operation may answer before or instead of its own work: the edge's
# limits on the body (408, 413), the key (401, 403) and the request's validation (400, 422).
API_ERRORS = problem_responses(400, 401, 403, 408, 413, 422)


# Text that no database stores: a NUL (PostgreSQL refuses it) or an unpaired surrogate
# (not encodable as UTF-8). The schema names only NUL, because validators built on
# Rust's regex (jsonschema-rs, which schemathesis uses) cannot compile a surrogate range.
STORABLE_TEXT_PATTERN = "^[^\\x00]*$"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def add_storable_text_pattern(schema: dict[str, Any]) -> None:
    """Give every free-text property of a model's schema :data:`STORABLE_TEXT_PATTERN`."""
    for prop in schema.get("properties", {}).values():
        for branch in (prop, *prop.get("anyOf", ()), prop.get("items") or {}):
            free_text = branch.get("type") == "string" and not {"pattern", "format", "enum"} & set(
                branch
            )
            if free_text:
                branch["pattern"] = STORABLE_TEXT_PATTERN


def unstorable_text(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a NUL or a lone surrogate (neither can be stored)."""
    if isinstance(value, str):
        return path or "(value)" if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = unstorable_text(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


class StorableText(BaseModel):
    """Refuses text that no database can store, naming the field (and says so in its schema)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # A hook rather than `json_schema_extra`, which a subclass's own config would replace.
        schema = handler.resolve_ref_schema(handler(core_schema))
        add_storable_text_pattern(schema)
        return schema

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        where = unstorable_text(data)
        if where:
            raise ValueError(f"{where}: contains a NUL character or an unpaired surrogate")
        return data

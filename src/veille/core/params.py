"""Parameter types shared by every API router (paths, query strings, JSON times)."""

from __future__ import annotations

import re
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import HTTPException, Path, Query, Request
from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

from veille.store.types import MAX_ID as MAX_ID

# Ids beyond what the databases store are refused as bad input (422), never
# passed on to the driver, which would overflow and answer 500.
RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="Record id.")]

# Free text in a query string: a NUL cannot be stored or compared by PostgreSQL,
# which would answer the query with an error (500); refuse it as bad input (422).
QueryText = Annotated[
    str, Query(max_length=200, pattern=r"^[^\x00]*$", description="Free text (no NUL).")
]


_NUMBER = re.compile(r"^\s*[-+]?[0-9.]+([eE][-+]?[0-9]+)?\s*$")


def _time_text(value: Any) -> Any:
    # Lax validation reads a number (or a string of digits) as seconds since 1970; the
    # API documents, and takes, ISO 8601 date-times only.
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise PydanticCustomError(
            "datetime_type", "expected an ISO 8601 date and time, e.g. 2026-01-31T09:30:00Z"
        )
    return value


# An ISO 8601 date-time with its offset, in a JSON body.
IsoTime = Annotated[AwareDatetime, BeforeValidator(_time_text)]
# An ISO 8601 date-time in a query string.
QueryTime = Annotated[datetime, BeforeValidator(_time_text)]


def refuse_repeated_scalars(request: Request) -> None:
    """Refuse a query parameter given twice where the operation takes one value (422).

    Otherwise the last one would silently win (``?limit=5&limit=500``).
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    for param in _query_params(dependant):
        name = param.alias
        if len(request.query_params.getlist(name)) > 1 and not _takes_many(
            param.field_info.annotation
        ):
            raise HTTPException(
                422,
                detail=[{"field": f"query.{name}", "reason": "expected one value, got several"}],
            )


def _takes_many(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, UnionType):
        return any(_takes_many(member) for member in get_args(annotation))
    return get_origin(annotation) in (list, tuple, set, frozenset)


def _query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_query_params(sub))
    return found

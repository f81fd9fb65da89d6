"""Parameter types shared by every API router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from veille.store.types import MAX_ID

# Ids beyond what the databases store are refused as bad input (422), never
# passed on to the driver, which would overflow and answer 500.
RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="Record id.")]

# Free text in a query string: a NUL cannot be stored or compared by PostgreSQL,
# which would answer the query with an error (500); refuse it as bad input (422).
QueryText = Annotated[
    str, Query(max_length=200, pattern=r"^[^\x00]*$", description="Free text (no NUL).")
]

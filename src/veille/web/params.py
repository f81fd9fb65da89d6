"""Parameter types shared by every API router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# Ids beyond what the databases store are refused as bad input (422), never
# passed on to the driver, which would overflow and answer 500.
MAX_ID = 2**31 - 1
RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="Record id.")]

"""``/docs``: the REST API described from its OpenAPI spec, as a plain page.

No Swagger UI or ReDoc assets are installed and the pages load nothing from
other sites, so the documentation is rendered on the server from the same
spec that ``/openapi.json`` serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, methods in spec.get("paths", {}).items():
        for method, operation in methods.items():
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": operation.get("parameters", []),
                    "body": operation.get("requestBody", {}).get("content", {}),
                    "responses": operation.get("responses", {}),
                }
            )
    return found


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Every REST operation with its parameters, body schema and responses."""
    spec = request.app.openapi()
    return templates.TemplateResponse(
        request,
        "docs.html",
        {
            "spec": spec,
            "operations": _operations(spec),
            "schemas": spec.get("components", {}).get("schemas", {}),
        },
    )

"""REST routes of linking under ``/api/v1``: case clusters, alerts, a linking run.

Mount with ``app.include_router(veille.linking.api.router(), prefix="/api/v1")``.
Routes find the database in ``request.app.state.veille.database`` (the web
app's state) and the caller through :func:`api_reader` / :func:`api_writer`,
which authenticate the agency's API key with the web app's scopes
(``reports:read`` / ``reports:write``). Both are plain FastAPI dependencies
that an app (or a test) may override with ``app.dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from veille.store.db import Database
from veille.store.reports import Viewer
from veille.web.api_models import problem_responses
from veille.web.params import MAX_ID, RecordId

_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def api_database(request: Request) -> Database:
    """The database of the app serving the request."""
    state = getattr(request.app.state, "veille", None)
    database = getattr(state, "database", None) or getattr(request.app.state, "database", None)
    if database is None:
        raise HTTPException(500, detail="the app has no database configured")
    return database


def viewer_with_scope(
    request: Request,
    key: str | None,
    bearer: HTTPAuthorizationCredentials | None,
    scope: str,
) -> Viewer:
    """Authenticate the key (header or bearer) and require ``scope``."""
    from veille.web.auth import require_scope

    principal = require_scope(scope)(request, key, bearer)
    return Viewer(actor=principal.actor, agency_id=principal.agency_id)


def api_reader(
    request: Request,
    key: Annotated[str | None, Security(_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Viewer:
    """The agency reading (an API key with scope ``reports:read``)."""
    return viewer_with_scope(request, key, bearer, "reports:read")


def api_writer(
    request: Request,
    key: Annotated[str | None, Security(_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Viewer:
    """The agency acting (an API key with scope ``reports:write``)."""
    return viewer_with_scope(request, key, bearer, "reports:write")


# A public cluster id (``cc-`` and 16 hex digits); internal ids are report ids and stay inside.
CLUSTER_ID_PATTERN = r"^cc-[0-9a-f]{16}$"
ClusterIdPath = Annotated[
    str,
    Path(
        min_length=19, max_length=19, pattern=CLUSTER_ID_PATTERN, examples=["cc-3f9a0c1d2e4b5a67"]
    ),
]

DatabaseDep = Annotated[Database, Depends(api_database)]
ReaderDep = Annotated[Viewer, Depends(api_reader)]
WriterDep = Annotated[Viewer, Depends(api_writer)]


def not_found(message: str) -> HTTPException:
    """A 404 in the web app's error shape."""
    return HTTPException(404, detail=[{"field": "path", "reason": message}])


def router() -> APIRouter:
    """The linking routes (clusters, alerts, linking run)."""
    routes = APIRouter(tags=["linking"])

    @routes.get("/clusters", summary="Case clusters with a report you may see, largest first")
    def get_clusters(
        database: DatabaseDep,
        viewer: ReaderDep,
        min_size: Annotated[int, Query(ge=1, le=MAX_ID)] = 2,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        from veille.linking.clusters import list_clusters

        with database.session() as session:
            rows, total = list_clusters(
                session, viewer, min_size=min_size, limit=limit, offset=offset
            )
        return {"total": total, "clusters": rows}

    @routes.get(
        "/clusters/{cluster_id}",
        summary="One case cluster: visible reports and evidence",
        responses=problem_responses(404),
    )
    def get_cluster(
        cluster_id: ClusterIdPath, database: DatabaseDep, viewer: ReaderDep
    ) -> dict[str, Any]:
        from veille.linking.clusters import ClusterNotFound, show_cluster

        problem = None
        with database.session() as session:
            try:
                return show_cluster(session, viewer, cluster_id)
            except ClusterNotFound as error:
                problem = str(error)
        raise not_found(problem)

    @routes.get("/deconfliction-alerts", summary="Other agencies holding reports of your clusters")
    def get_alerts(
        database: DatabaseDep, viewer: ReaderDep, include_acknowledged: bool = False
    ) -> list[dict[str, Any]]:
        from veille.linking.deconfliction import list_alerts

        if viewer.agency_id is None:
            return []
        with database.session() as session:
            alerts = list_alerts(
                session, viewer.agency_id, include_acknowledged=include_acknowledged
            )
        return [
            {
                "id": a.id,
                "cluster_id": a.cluster_id,
                "other_agency": a.other_agency,
                "other_country": a.other_country,
                "message": a.message,
                "created_at": a.created_at,
                "acknowledged_at": a.acknowledged_at,
            }
            for a in alerts
        ]

    @routes.post(
        "/deconfliction-alerts/{alert_id}/ack",
        summary="Acknowledge an alert",
        responses=problem_responses(404),
    )
    def ack_alert(alert_id: RecordId, database: DatabaseDep, viewer: WriterDep) -> dict[str, Any]:
        from veille.linking.deconfliction import acknowledge_alert

        problem = None
        with database.session() as session:
            try:
                acknowledge_alert(session, alert_id, viewer.agency_id or -1, viewer.actor)
            except LookupError as error:
                problem = str(error)
        if problem:
            raise not_found(problem)
        return {"id": alert_id, "acknowledged": True}

    @routes.post("/link", summary="Link new reports and re-score the reports whose cluster changed")
    def run_linking(database: DatabaseDep, viewer: WriterDep) -> dict[str, Any]:
        from veille.linking.engine import link_reports
        from veille.triage.scoring import score_reports

        summary = link_reports(database, actor=viewer.actor)
        scoring = score_reports(database, summary.affected_report_ids, trigger="link")
        return {"linking": summary.as_dict(), "scoring": scoring.as_dict()}

    return routes

"""REST routes of linking under ``/api/v1``: case clusters, alerts, a linking run.

Mount with ``app.include_router(veille.linking.api.router(), prefix="/api/v1")``.
The database and the caller come from the core's API dependencies
(:mod:`veille.core.api`: ``api_reader`` needs scope ``reports:read``,
``api_writer`` ``reports:write``), which an app (or a test) may override
with ``app.dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from veille.core.api import DatabaseDep, ReaderDep, WriterDep, not_found, problem_responses
from veille.core.params import MAX_ID, RecordId
from veille.linking.api_models import (
    AlertAcknowledged,
    AlertOut,
    ClusterDetail,
    ClusterList,
    LinkRun,
)
from veille.linking.clusters import CLUSTER_ID_PATTERN

ClusterIdPath = Annotated[
    str,
    Path(
        min_length=19, max_length=19, pattern=CLUSTER_ID_PATTERN, examples=["cc-3f9a0c1d2e4b5a67"]
    ),
]


def router() -> APIRouter:
    """The linking routes (clusters, alerts, linking run)."""
    routes = APIRouter(tags=["linking"])

    @routes.get(
        "/clusters",
        response_model=ClusterList,
        summary="Case clusters with a report you may see, largest first",
    )
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
        response_model=ClusterDetail,
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

    @routes.get(
        "/deconfliction-alerts",
        response_model=list[AlertOut],
        summary="Other agencies holding reports of your clusters",
    )
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
        response_model=AlertAcknowledged,
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

    @routes.post(
        "/link",
        response_model=LinkRun,
        summary="Link new reports and re-score the reports whose cluster changed",
    )
    def run_linking(database: DatabaseDep, viewer: WriterDep) -> dict[str, Any]:
        from veille.linking.engine import link_reports
        from veille.linking.flow import rescore_now

        summary = link_reports(database, actor=viewer.actor)
        scoring = rescore_now(database, summary.affected_report_ids)
        return {
            "linking": summary.as_dict(),
            "scoring": None if scoring is None else scoring.as_dict(),
        }

    return routes

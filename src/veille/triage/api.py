"""REST routes of triage and referral under ``/api/v1``.

Mount with ``app.include_router(veille.triage.api.router(), prefix="/api/v1")``.
Authentication and the database come from the core's API dependencies
(:mod:`veille.core.api`), as for every router. Errors use the one shape:
``{"detail": [{"field": ..., "reason": ...}]}``; a move the queue does not
allow is a 409, a bad body or policy a 422, an unknown report a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import ConfigDict, Field, model_validator

from veille.core.api import (
    AdminDep,
    DatabaseDep,
    ReaderDep,
    StorableText,
    WriterDep,
    not_found,
    problem,
    problem_responses,
)
from veille.core.params import MAX_ID, QueryText, QueryTime, RecordId
from veille.intake.schema import NOT_A_BOOLEAN
from veille.linking.clusters import CLUSTER_ID_PATTERN
from veille.safe_yaml import MAX_YAML_BYTES
from veille.triage.api_models import (
    CapacityOut,
    Explanation,
    PolicyOut,
    PolicyVerdict,
    QueueOut,
    ReferralAcknowledged,
    ReferralListed,
    ReferralsMade,
    StateChanged,
)
from veille.triage.models import Outcome, QueueState


class StateChange(StorableText):
    """A move in the agency's queue."""

    model_config = ConfigDict(extra="forbid")

    state: QueueState
    assignee: str | None = Field(default=None, max_length=200)
    outcome: Outcome | None = None
    note: str | None = Field(default=None, max_length=5000)


class CapacityIn(StorableText):
    """A unit's capacity."""

    model_config = ConfigDict(extra="forbid")

    reports_per_day: Annotated[int, Field(ge=0, le=1_000_000), NOT_A_BOOLEAN]


class ReferralIn(StorableText):
    """A referral of one report or of a whole case cluster."""

    # The schema says what `_one_target` checks: exactly one of the two is given (not null).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["report_id"], "properties": {"report_id": {"type": "integer"}}},
                {"required": ["cluster_id"], "properties": {"cluster_id": {"type": "string"}}},
            ]
        },
    )

    report_id: Annotated[int, Field(ge=1, le=MAX_ID), NOT_A_BOOLEAN] | None = None
    cluster_id: str | None = Field(default=None, pattern=CLUSTER_ID_PATTERN, max_length=19)
    to_agency: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=400)

    @model_validator(mode="after")
    def _one_target(self) -> ReferralIn:
        if (self.report_id is None) == (self.cluster_id is None):
            raise ValueError("give exactly one of report_id and cluster_id")
        return self


def _agency_of(viewer: Any) -> int:
    if viewer.agency_id is None:
        raise problem(403, "X-API-Key", "this route acts for an agency")
    return int(viewer.agency_id)


def router() -> APIRouter:
    """The triage and referral routes."""
    routes = APIRouter(tags=["triage"])

    @routes.get(
        "/triage/queue",
        response_model=QueueOut,
        summary="Your agency's work queue, most urgent first",
    )
    def get_queue(
        database: DatabaseDep,
        viewer: ReaderDep,
        state: Annotated[list[QueueState] | None, Query()] = None,
        assignee: QueryText | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        as_of: Annotated[
            QueryTime | None,
            Query(description="Judge overdue, due today and capacity at this time (default now)."),
        ] = None,
    ) -> dict[str, Any]:
        from veille.triage.queue import OPEN_STATES, queue_for

        agency_id = _agency_of(viewer)
        with database.session() as session:
            view = queue_for(
                session,
                agency_id,
                viewer.actor,
                states=tuple(state) if state else OPEN_STATES,
                assignee=assignee,
                limit=limit,
                offset=offset,
                as_of=as_of,
            )
        return {
            "as_of": view.as_of,
            "summary": view.summary(),
            "open_total": view.open_total,
            "open_by_band": view.open_by_band,
            "capacity_per_day": view.capacity_per_day,
            "handled_today": view.handled_today,
            "not_reached_today": view.not_reached_today,
            "not_reached_by_band": view.not_reached_by_band,
            "overdue": view.overdue,
            "due_later_today": view.due_later_today,
            "items": view.items,
        }

    @routes.get(
        "/triage/reports/{report_id}",
        response_model=Explanation,
        summary="A report's score, band, due time and reasons",
        responses=problem_responses(404),
    )
    def explain(report_id: RecordId, database: DatabaseDep, viewer: ReaderDep) -> dict[str, Any]:
        from veille.store.reports import ReportNotFound
        from veille.triage.explain import explain_report

        missing = None
        with database.session() as session:
            try:
                return explain_report(session, viewer, report_id)
            except ReportNotFound as error:
                missing = str(error)
        raise not_found(missing)

    @routes.post(
        "/triage/reports/{report_id}/state",
        response_model=StateChanged,
        summary="Assign, start, close or reopen",
        responses=problem_responses(404, 409),
    )
    def change(
        report_id: RecordId, body: StateChange, database: DatabaseDep, viewer: WriterDep
    ) -> dict[str, Any]:
        from veille.triage.queue import QueueError, QueueItemNotFound, change_state

        agency_id = _agency_of(viewer)
        failure: HTTPException | None = None
        with database.session() as session:
            try:
                item = change_state(
                    session,
                    agency_id,
                    report_id,
                    body.state,
                    viewer.actor,
                    assignee=body.assignee,
                    outcome=body.outcome,
                    note=body.note,
                )
                return {
                    "report_id": report_id,
                    "state": item.state,
                    "assignee": item.assignee,
                    "outcome": item.outcome,
                }
            except QueueError as error:
                field, _, reason = str(error).partition(": ")
                failure = problem(409, field, reason)
            except QueueItemNotFound as error:
                failure = not_found(str(error))
        raise failure

    @routes.get(
        "/triage/policy",
        response_model=PolicyOut,
        # A factor lists only the scaling parameters its policy sets.
        response_model_exclude_unset=True,
        summary="The active scoring policy",
    )
    def get_policy(database: DatabaseDep, viewer: ReaderDep) -> dict[str, Any]:
        from veille.triage.policy import active_policy, describe_policy

        with database.session() as session:
            return describe_policy(active_policy(session))

    @routes.post(
        "/triage/policy/check",
        response_model=PolicyVerdict,
        # An invalid policy has no version: the key is left out, as before.
        response_model_exclude_unset=True,
        summary="Validate a policy (YAML text in the body)",
        # The body is a YAML document, described by the value it holds: any value is
        # checked and answered with a verdict (200, "valid": false for a non-policy).
        # (Merged into FastAPI's schema for `text`, so `type` is widened, not removed.)
        openapi_extra={
            "requestBody": {
                "description": f"A scoring policy as YAML, at most {MAX_YAML_BYTES} characters.",
                "content": {
                    "application/yaml": {
                        "schema": {
                            "type": [
                                "object",
                                "array",
                                "string",
                                "number",
                                "integer",
                                "boolean",
                                "null",
                            ]
                        }
                    }
                },
            }
        },
    )
    def check_policy(
        # Checking the scoring policy is an administrator's act (scope ``admin``): it
        # decides which child is seen first. No agency key has that scope by default.
        viewer: AdminDep,
        text: Annotated[str, Body(media_type="application/yaml", max_length=MAX_YAML_BYTES)],
    ) -> dict[str, Any]:
        from veille.triage.policy import PolicyError, parse_policy

        try:
            policy = parse_policy(text, "body")
        except PolicyError as error:
            return {"valid": False, "errors": error.messages}
        return {"valid": True, "version": policy.version, "errors": []}

    @routes.put(
        "/triage/capacity",
        response_model=CapacityOut,
        summary="Set your unit's capacity (reports per day)",
    )
    def put_capacity(body: CapacityIn, database: DatabaseDep, viewer: WriterDep) -> dict[str, Any]:
        from veille.triage.queue import set_capacity

        agency_id = _agency_of(viewer)
        with database.session() as session:
            set_capacity(session, agency_id, body.reports_per_day, viewer.actor)
        return {"reports_per_day": body.reports_per_day}

    @routes.post(
        "/referrals",
        status_code=201,
        response_model=ReferralsMade,
        summary="Refer a report or a case cluster",
        responses=problem_responses(404, 409),
    )
    def create_referral(
        body: ReferralIn, database: DatabaseDep, viewer: WriterDep
    ) -> dict[str, Any]:
        from veille.linking.clusters import ClusterNotFound
        from veille.store.agencies import AgencyNotFound, find_agency
        from veille.store.reports import ReportNotFound
        from veille.triage.referral import (
            ReferralError,
            names_of_agencies,
            refer_cluster,
            refer_report,
        )

        failure: HTTPException | None = None
        with database.session() as session:
            try:
                target = find_agency(session, body.to_agency) if body.to_agency else None
                if body.report_id is not None:
                    made = [
                        refer_report(
                            session, viewer, body.report_id, to_agency=target, reason=body.reason
                        )
                    ]
                    skipped: list[tuple[int, str]] = []
                else:
                    assert body.cluster_id is not None
                    bulk = refer_cluster(
                        session, viewer, body.cluster_id, to_agency=target, reason=body.reason
                    )
                    made, skipped = bulk.referred, bulk.skipped
                agency_names = names_of_agencies(session, [r.to_agency_id for r in made])
                return {
                    "referrals": [
                        {
                            "id": r.id,
                            "report_id": r.report_id,
                            "to_agency_id": r.to_agency_id,
                            "to_agency": agency_names[r.to_agency_id],
                            "reason": r.reason,
                            "shared": r.shared,
                        }
                        for r in made
                    ],
                    "skipped": [{"report_id": rid, "reason": why} for rid, why in skipped],
                }
            # Well-formed requests that what is stored refuses: no such agency (as for
            # an unknown report, 404), or a referral the report's state rules out (409).
            except AgencyNotFound as error:
                failure = problem(404, "to_agency", str(error))
            except ReferralError as error:
                failure = problem(409, "report_id", str(error))
            except (ReportNotFound, ClusterNotFound) as error:
                failure = not_found(str(error))
        raise failure

    @routes.get(
        "/referrals",
        response_model=list[ReferralListed],
        summary="Referrals your agency made or received",
    )
    def get_referrals(
        database: DatabaseDep,
        viewer: ReaderDep,
        direction: Annotated[str, Query(pattern="^(in|out|both)$")] = "both",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        from veille.triage.referral import list_referrals

        agency_id = _agency_of(viewer)
        with database.session() as session:
            return list_referrals(session, agency_id, direction=direction, limit=limit)

    @routes.post(
        "/referrals/{referral_id}/ack",
        response_model=ReferralAcknowledged,
        summary="Acknowledge a referral made to you",
        responses=problem_responses(404),
    )
    def ack_referral(
        referral_id: RecordId, database: DatabaseDep, viewer: WriterDep
    ) -> dict[str, Any]:
        from veille.triage.referral import acknowledge_referral

        missing = None
        with database.session() as session:
            try:
                when = acknowledge_referral(session, viewer, referral_id)
                return {"id": referral_id, "acknowledged_at": when}
            except LookupError as error:
                missing = str(error)
        raise not_found(missing)

    return routes

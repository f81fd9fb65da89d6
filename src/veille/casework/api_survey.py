"""REST routes of questionnaires: an agency reads those sent to it and submits its answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from veille.casework.errors import CaseworkError, NotFound
from veille.casework.survey_definition import KEY_PATTERN, QuestionnaireDefinition
from veille.core.api import (
    STORABLE_TEXT_PATTERN,
    DatabaseDep,
    ReaderDep,
    StorableText,
    WriterDep,
    not_found,
    problem,
    problem_responses,
)
from veille.intake.schema import CountryCode

SurveyKey = Annotated[str, Path(pattern=KEY_PATTERN, max_length=100, description="Its id.")]


class QuestionnaireListed(BaseModel):
    """A questionnaire sent to your agency."""

    id: str
    title: str
    sender: str | None
    questions: int
    responses: int
    """1 when your agency has answered, else 0."""


class AnswersIn(StorableText):
    """Your agency's answers: question id → choice, number or text."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[
        Annotated[str, StringConstraints(pattern=KEY_PATTERN)],
        Annotated[str, StringConstraints(pattern=STORABLE_TEXT_PATTERN)] | int,
    ] = Field(
        max_length=200,
        # Keys are question ids: the schema says so (pydantic writes only patternProperties).
        json_schema_extra={"additionalProperties": False},
    )
    country: CountryCode | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        from veille.geo import CountryError, normalise_country

        if value is None:
            return None
        try:
            return normalise_country(value)
        except CountryError as error:
            raise ValueError(str(error)) from None


class AnswersOut(BaseModel):
    """The answers as recorded."""

    questionnaire_id: str
    agency_id: int
    country: str
    submitted_at: datetime
    answers: dict[str, str | int]


def _agency(viewer: Any) -> int:
    if viewer.agency_id is None:
        raise problem(403, "X-API-Key", "this route acts for an agency")
    return int(viewer.agency_id)


def router() -> APIRouter:
    """The questionnaire routes."""
    routes = APIRouter(tags=["questionnaires"])

    @routes.get(
        "/surveys", response_model=list[QuestionnaireListed], summary="Questionnaires sent to you"
    )
    def listing(database: DatabaseDep, viewer: ReaderDep) -> list[dict[str, Any]]:
        from veille.casework.survey import questionnaires_for

        with database.session() as session:
            return questionnaires_for(session, _agency(viewer))

    @routes.get(
        "/surveys/{key}",
        response_model=QuestionnaireDefinition,
        summary="A questionnaire sent to you: its questions",
        responses=problem_responses(404),
    )
    def show(key: SurveyKey, database: DatabaseDep, viewer: ReaderDep) -> dict[str, Any]:
        from veille.casework.survey import find_questionnaire, sent_to

        agency_id = _agency(viewer)
        with database.session() as session:
            try:
                questionnaire = find_questionnaire(session, key)
                if sent_to(session, questionnaire, agency_id):
                    return dict(questionnaire.definition)
            except NotFound:
                pass
        raise not_found(f"no questionnaire {key!r} was sent to your agency")

    @routes.put(
        "/surveys/{key}/answers",
        response_model=AnswersOut,
        summary="Submit (or replace) your agency's answers",
        responses=problem_responses(404, 422),
    )
    def answer(
        key: SurveyKey, body: AnswersIn, database: DatabaseDep, viewer: WriterDep
    ) -> dict[str, Any]:
        from veille.casework.survey import find_questionnaire, record_answers, sent_to
        from veille.store.models import Agency

        agency_id = _agency(viewer)
        failure: HTTPException
        with database.session() as session:
            try:
                questionnaire = find_questionnaire(session, key)
                if not sent_to(session, questionnaire, agency_id):
                    raise NotFound(key)
                agency = session.get(Agency, agency_id)
                assert agency is not None
                row = record_answers(
                    session, questionnaire, agency, body.answers, submitted_at=None,
                    channel="api", actor=viewer.actor, country=body.country,
                )  # fmt: skip
                return {
                    "questionnaire_id": key,
                    "agency_id": agency_id,
                    "country": row.country,
                    "submitted_at": row.submitted_at,
                    "answers": row.answers,
                }
            except NotFound:
                failure = not_found(f"no questionnaire {key!r} was sent to your agency")
            except CaseworkError as error:
                failure = problem(422, error.field, error.reason)
            session.rollback()
        raise failure

    return routes

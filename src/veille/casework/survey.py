"""Questionnaires: define, send to agencies, collect answers (API, import), expose them.

An agency answers once per questionnaire; a later submission replaces the
earlier one (the last word counts). Answers are checked against the
definition: a closed question takes one of its choices, an open one text
within its length; an unknown question or a missing required one is refused
naming ``answers.<question id>``. :func:`survey_answers` is the door through
which the analytics capability aggregates them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.casework.errors import CaseworkError, Conflict, ImportRefused, LineProblem, NotFound
from veille.casework.lines import AwareTime, read_lines
from veille.casework.models import Questionnaire, QuestionnaireDispatch, QuestionnaireResponse
from veille.casework.survey_definition import QuestionKind, QuestionnaireDefinition
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.models import Agency
from veille.store.types import utcnow
from veille.vocab import AgencyKind


def define_questionnaire(
    session: Session, definition: QuestionnaireDefinition, *, actor: str
) -> tuple[Questionnaire, bool]:
    """Store a questionnaire; ``(row, False)`` when the same one is stored already.

    A questionnaire id names one definition for good: answers refer to its
    questions, so a changed definition needs a new id.
    """
    stored_form = definition.model_dump(mode="json", exclude_none=True)
    found = session.scalar(select(Questionnaire).where(Questionnaire.key == definition.id))
    if found is not None:
        if found.definition != stored_form:
            raise Conflict("id", f"{definition.id} is defined already, differently; use a new id")
        return found, False
    row = Questionnaire(
        key=definition.id,
        title=definition.title,
        sender=definition.sender,
        definition=stored_form,
        defined_by=actor,
    )
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor, action="survey.define", object_type="questionnaire",
        object_id=definition.id,
    )  # fmt: skip
    return row, True


def find_questionnaire(session: Session, key: str) -> Questionnaire:
    """A questionnaire by its id."""
    found = session.scalar(select(Questionnaire).where(Questionnaire.key == key))
    if found is None:
        raise NotFound(f"no questionnaire {key!r}")
    return found


def definition_of(questionnaire: Questionnaire) -> QuestionnaireDefinition:
    """The stored definition as a model."""
    return QuestionnaireDefinition.model_validate(questionnaire.definition)


def send_questionnaire(
    session: Session,
    key: str,
    agency_ids: Sequence[int],
    *,
    actor: str,
    at: datetime | None = None,
) -> int:
    """Record that the questionnaire went to these agencies; returns how many were new."""
    questionnaire = find_questionnaire(session, key)
    already = set(
        session.scalars(
            select(QuestionnaireDispatch.agency_id).where(
                QuestionnaireDispatch.questionnaire_id == questionnaire.id
            )
        )
    )
    moment = at or utcnow()
    new = [agency_id for agency_id in dict.fromkeys(agency_ids) if agency_id not in already]
    for agency_id in new:
        session.add(
            QuestionnaireDispatch(
                questionnaire_id=questionnaire.id,
                agency_id=agency_id,
                sent_at=moment,
                sent_by=actor,
            )
        )
    record_event(
        session, actor=actor, action="survey.send", object_type="questionnaire", object_id=key,
        detail=f"{len(new)} agencies",
    )  # fmt: skip
    session.flush()
    return len(new)


def agencies_of_kind(session: Session, kind: AgencyKind) -> list[int]:
    """Ids of every agency of a kind (``send --kind police``)."""
    return list(session.scalars(select(Agency.id).where(Agency.kind == kind).order_by(Agency.id)))


def answer_problems(
    definition: QuestionnaireDefinition, answers: dict[str, Any]
) -> list[tuple[str, str]]:
    """``(field, reason)`` for every answer that does not fit the definition."""
    problems = []
    for question_id, value in answers.items():
        question = definition.question(question_id)
        if question is None:
            problems.append((f"answers.{question_id}", "no such question"))
            continue
        reason = question.problem_with(value)
        if reason:
            problems.append((f"answers.{question_id}", reason))
    for question in definition.questions:
        if question.required and question.id not in answers:
            problems.append((f"answers.{question.id}", "this question needs an answer"))
    return problems


def sent_to(session: Session, questionnaire: Questionnaire, agency_id: int) -> bool:
    """Whether the questionnaire was sent to the agency."""
    return session.get(QuestionnaireDispatch, (questionnaire.id, agency_id)) is not None


def record_answers(
    session: Session,
    questionnaire: Questionnaire,
    agency: Agency,
    answers: dict[str, Any],
    *,
    submitted_at: datetime | None,
    channel: str,
    actor: str,
    country: str | None = None,
) -> QuestionnaireResponse:
    """Store an agency's answers (replacing its earlier ones); refuses answers that do not fit."""
    problems = answer_problems(definition_of(questionnaire), answers)
    if problems:
        field, reason = problems[0]
        raise CaseworkError(field, reason)
    moment = submitted_at or utcnow()
    row = session.scalar(
        select(QuestionnaireResponse).where(
            QuestionnaireResponse.questionnaire_id == questionnaire.id,
            QuestionnaireResponse.agency_id == agency.id,
        )
    )
    if row is None:
        row = QuestionnaireResponse(questionnaire_id=questionnaire.id, agency_id=agency.id)
        session.add(row)
    row.country = country or agency.country
    row.submitted_at = moment
    row.answers = dict(answers)
    row.channel = channel
    row.recorded_by = actor
    record_event(
        session, actor=actor, agency_id=agency.id, action="survey.answer",
        object_type="questionnaire", object_id=questionnaire.key, detail=channel,
    )  # fmt: skip
    session.flush()
    return row


class AnswerLine(BaseModel):
    """One line of ``questionnaire-answers.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    questionnaire_id: str = Field(min_length=1, max_length=100)
    agency: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    submitted_at: AwareTime
    answers: dict[str, Any]


@dataclass
class AnswerImport:
    """What an import of answers did."""

    recorded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_answers(database: Database, path: Path, *, actor: str) -> AnswerImport:
    """Import answer sets, all or nothing; each line names a defined questionnaire and an agency."""
    records, problems = read_lines(path, AnswerLine)
    summary = AnswerImport()
    with database.session() as session:
        questionnaires: dict[str, Questionnaire | None] = {}
        agencies = {
            a.name: a
            for a in session.scalars(
                select(Agency).where(Agency.name.in_({r.agency for _, r in records}))
            )
        }
        checked: list[tuple[AnswerLine, Questionnaire, Agency]] = []
        seen: dict[tuple[str, str], int] = {}
        for number, record in records:
            if record.questionnaire_id not in questionnaires:
                questionnaires[record.questionnaire_id] = session.scalar(
                    select(Questionnaire).where(Questionnaire.key == record.questionnaire_id)
                )
            questionnaire = questionnaires[record.questionnaire_id]
            agency = agencies.get(record.agency)
            if questionnaire is None:
                problems.append(
                    LineProblem(
                        number,
                        "questionnaire_id",
                        f"no questionnaire {record.questionnaire_id!r} (define it first)",
                    )
                )
            if agency is None:
                problems.append(LineProblem(number, "agency", f"no agency {record.agency!r}"))
            key = (record.questionnaire_id, record.agency)
            if key in seen:
                problems.append(LineProblem(number, "agency", f"answers again (line {seen[key]})"))
            seen[key] = number
            if questionnaire is None or agency is None:
                continue
            for field, reason in answer_problems(definition_of(questionnaire), record.answers):
                problems.append(LineProblem(number, field, reason))
            checked.append((record, questionnaire, agency))
        if problems:
            raise ImportRefused(sorted(problems, key=lambda p: p.line))
        for record, questionnaire, agency in checked:
            record_answers(
                session, questionnaire, agency, record.answers, submitted_at=record.submitted_at,
                channel="import", actor=actor, country=record.country,
            )  # fmt: skip
            summary.recorded += 1
    return summary


@dataclass(frozen=True)
class AnswerSet:
    """One agency's answers, as readers outside casework see them."""

    agency: str
    country: str
    submitted_at: datetime
    channel: str
    answers: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "country": self.country,
            "submitted_at": self.submitted_at.isoformat().replace("+00:00", "Z"),
            "channel": self.channel,
            "answers": self.answers,
        }


def survey_answers(session: Session, key: str) -> tuple[QuestionnaireDefinition, list[AnswerSet]]:
    """A questionnaire's definition and every agency's answers (the analytics capability's door)."""
    questionnaire = find_questionnaire(session, key)
    rows = session.execute(
        select(QuestionnaireResponse, Agency.name)
        .join(Agency, Agency.id == QuestionnaireResponse.agency_id)
        .where(QuestionnaireResponse.questionnaire_id == questionnaire.id)
        .order_by(Agency.name)
    ).all()
    return definition_of(questionnaire), [
        AnswerSet(name, row.country, row.submitted_at, row.channel, dict(row.answers))
        for row, name in rows
    ]


def tally(
    definition: QuestionnaireDefinition, answer_sets: Sequence[AnswerSet]
) -> list[dict[str, Any]]:
    """Per closed question, how many agencies chose each choice (open questions: how many answered)."""
    rows = []
    for question in definition.questions:
        given = [s.answers[question.id] for s in answer_sets if question.id in s.answers]
        if question.kind is QuestionKind.CLOSED:
            counts = Counter(given)
            rows.append(
                {"question": question.id, "answered": len(given)}
                | {choice: counts.get(choice, 0) for choice in question.choices}
            )
        else:
            rows.append({"question": question.id, "answered": len(given)})
    return rows


def questionnaires_for(session: Session, agency_id: int | None) -> list[dict[str, Any]]:
    """The questionnaires sent to an agency (every one, for ``None``), with whether it answered."""
    statement = select(Questionnaire).order_by(Questionnaire.key)
    if agency_id is not None:
        statement = statement.join(
            QuestionnaireDispatch, QuestionnaireDispatch.questionnaire_id == Questionnaire.id
        ).where(QuestionnaireDispatch.agency_id == agency_id)
    out = []
    for questionnaire in session.scalars(statement):
        answered = select(QuestionnaireResponse.id).where(
            QuestionnaireResponse.questionnaire_id == questionnaire.id
        )
        if agency_id is not None:
            answered = answered.where(QuestionnaireResponse.agency_id == agency_id)
        responses = len(session.scalars(answered).all())
        out.append(
            {
                "id": questionnaire.key,
                "title": questionnaire.title,
                "sender": questionnaire.sender,
                "questions": len(questionnaire.definition.get("questions", [])),
                "responses": responses,
            }
        )
    return out

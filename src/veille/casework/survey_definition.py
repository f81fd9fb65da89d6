"""A questionnaire's definition: read from YAML (or the scenario's JSON), checked field by field.

```yaml
id: Q-2020-COVID
title: Impact of COVID-19 restrictions
sender: International CSE Intelligence Unit
questions:
  - id: p2p_sharing
    text: Sharing of CSAM on peer-to-peer networks since restrictions began
    kind: closed
    choices: [increase, stable, decrease, unknown]
  - id: comments
    text: Anything else we should know?
    kind: open
    max_length: 2000
  - id: intrusions
    text: Number of video-conference intrusions reported
    kind: number
    minimum: 0
    maximum: 5
```

The scenario's ``questionnaire.json`` (``questionnaire_id``, ``questions[{id,
text, answers}]``) is read as the same thing: a list of ``answers`` are the
choices of a closed question, ``"integer 0-5"`` makes a number question from
0 to 5. Every problem names its field (``questions.2.choices``).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from veille.casework.errors import CaseworkError
from veille.safe_yaml import YamlLimitError, load_yaml_limited

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
MAX_DEFINITION_BYTES = 256 * 1024


class QuestionKind(StrEnum):
    """Closed questions take one of their choices; open ones take free text."""

    CLOSED = "closed"
    OPEN = "open"
    NUMBER = "number"
    """A whole number between ``minimum`` and ``maximum``."""


class Question(BaseModel):
    """One question."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=KEY_PATTERN)
    text: str = Field(min_length=1, max_length=2000)
    kind: QuestionKind = QuestionKind.CLOSED
    choices: list[str] = Field(default_factory=list, max_length=50)
    max_length: int = Field(default=2000, ge=1, le=20_000)
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False

    @model_validator(mode="after")
    def _choices_fit_the_kind(self) -> Question:
        if self.kind is QuestionKind.CLOSED:
            if len(self.choices) < 2:
                raise ValueError("a closed question needs at least two choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError("choices are repeated")
            if any(not c or len(c) > 200 for c in self.choices):
                raise ValueError("each choice has 1 to 200 characters")
        elif self.choices:
            raise ValueError(f"an {self.kind.value} question has no choices")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is above maximum")
        return self

    def problem_with(self, value: Any) -> str | None:
        """Why ``value`` is no answer to this question, or ``None``."""
        if self.kind is QuestionKind.CLOSED:
            if value not in self.choices:
                return f"expected one of {', '.join(self.choices)}"
            return None
        if self.kind is QuestionKind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int):
                return "expected a whole number"
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                return f"expected a number from {self.minimum} to {self.maximum}"
            return None
        if not isinstance(value, str):
            return "expected text"
        if len(value) > self.max_length:
            return f"longer than {self.max_length} characters"
        if "\x00" in value:
            return "contains a NUL character"
        return None


class QuestionnaireDefinition(BaseModel):
    """A questionnaire: its id, title, sender and questions."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=500)
    sender: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = Field(default=None, description="Informative (the scenario's file).")
    questions: list[Question] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique_question_ids(self) -> QuestionnaireDefinition:
        seen: set[str] = set()
        for question in self.questions:
            if question.id in seen:
                raise ValueError(f"question id {question.id!r} is used twice")
            seen.add(question.id)
        return self

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


def _scenario_form(data: Any) -> Any:
    """The scenario's JSON names (``questionnaire_id``, ``answers``) as the YAML's."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    if "questionnaire_id" in data and "id" not in data:
        data["id"] = data.pop("questionnaire_id")
    questions = data.get("questions")
    if isinstance(questions, list):
        data["questions"] = [_scenario_question(q) for q in questions]
    return data


_INTEGER_RANGE = re.compile(r"^integer (-?\d{1,9})-(\d{1,9})$")


def _scenario_question(question: Any) -> Any:
    """``answers: [...]`` are a closed question's choices; ``answers: "integer 0-5"`` a number's range."""
    if not isinstance(question, dict) or "answers" not in question or "choices" in question:
        return question
    question = dict(question)
    answers = question.pop("answers")
    found = _INTEGER_RANGE.match(answers) if isinstance(answers, str) else None
    if found:
        question.update(kind="number", minimum=int(found[1]), maximum=int(found[2]))
    else:
        question["choices"] = answers
    return question


def parse_definition(data: Any) -> QuestionnaireDefinition:
    """A checked definition, or :class:`CaseworkError` naming the first bad field (all listed)."""
    try:
        return QuestionnaireDefinition.model_validate(_scenario_form(data))
    except ValidationError as error:
        problems = [
            (
                ".".join(str(p) for p in item["loc"]) or "(file)",
                item["msg"].removeprefix("Value error, "),
            )
            for item in error.errors()
        ]
        field, reason = problems[0]
        more = "; ".join(f"{f}: {r}" for f, r in problems[1:])
        raise CaseworkError(field, reason + (f" (also {more})" if more else "")) from None


def load_definition(path: Path) -> QuestionnaireDefinition:
    """Read a questionnaire from a YAML or JSON file."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CaseworkError("file", f"{path} cannot be read ({error.strerror})") from None
    if len(raw) > MAX_DEFINITION_BYTES:
        raise CaseworkError("file", f"larger than {MAX_DEFINITION_BYTES} bytes")
    try:
        data = load_yaml_limited(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CaseworkError("file", "not UTF-8 text") from None
    except YamlLimitError as error:
        raise CaseworkError("file", str(error)) from None
    if not isinstance(data, dict):
        raise CaseworkError("file", "expected a mapping with id, title and questions")
    return parse_definition(data)

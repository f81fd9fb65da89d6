"""Questionnaire aggregates: "N of M countries report an increase in …", per question and region.

The answers are stored by the casework capability (``veille survey``); this
module reads them through its door (``veille.casework.survey.survey_answers``)
and counts, for each closed question, how many *countries* gave each answer.
A country with several responding units counts once, with the answer most of
its units gave (a tie is ``mixed``). Regions come from a mapping the reader
gives (a YAML file ``CODE: Region``); without one, the whole world is one row.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from veille.safe_yaml import YamlLimitError, load_yaml_limited

ALL_REGIONS = "all regions"


class SurveyError(ValueError):
    """A questionnaire or region file that cannot be used (the message names it)."""


def load_regions(path: Path) -> dict[str, str]:
    """``CODE: Region`` pairs from a YAML file."""
    try:
        data = load_yaml_limited(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SurveyError(f"regions: cannot read {path}: {error.strerror}") from None
    except YamlLimitError as error:
        raise SurveyError(f"regions {path.name}: {error}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise SurveyError(
            f"regions {path.name}: expected a mapping of country codes to region names"
        )
    return {k.strip().upper(): v.strip() for k, v in data.items()}


def country_answers(answer_sets: list[Any], question: str) -> dict[str, str]:
    """Each country's answer to ``question``: its units' most common answer, ``mixed`` on a tie."""
    by_country: dict[str, Counter[str]] = defaultdict(Counter)
    for answers in answer_sets:
        value = answers.answers.get(question)
        if isinstance(value, str) and value:
            by_country[answers.country][value] += 1
    chosen = {}
    for country, counts in by_country.items():
        ranked = counts.most_common()
        chosen[country] = (
            "mixed" if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else ranked[0][0]
        )
    return chosen


def survey_summary(
    session: Session, questionnaire: str, regions: dict[str, str] | None = None
) -> dict[str, Any]:
    """Per closed question and region: how many countries gave each answer, and a sentence."""
    from veille.casework.survey import survey_answers

    try:
        definition, answer_sets = survey_answers(session, questionnaire)
    except LookupError as error:
        raise SurveyError(f"questionnaire: {error}") from None
    rows = []
    for question in definition.questions:
        if not question.choices:
            continue
        per_country = country_answers(answer_sets, question.id)
        groups: dict[str, dict[str, str]] = {ALL_REGIONS: per_country}
        if regions:
            for country, answer in per_country.items():
                groups.setdefault(regions.get(country, "unknown region"), {})[country] = answer
        for region, answers in groups.items():
            counts = Counter(answers.values())
            total = len(answers)
            row = {
                "question": question.id,
                "text": question.text,
                "region": region,
                "countries": total,
                **{choice: counts.get(choice, 0) for choice in question.choices},
                "mixed": counts.get("mixed", 0),
            }
            if "increase" in question.choices and total:
                row["sentence"] = (
                    f"{counts.get('increase', 0)} of {total} countries report an increase"
                    + (f" ({region})" if region != ALL_REGIONS else "")
                    + f": {question.text}"
                )
            rows.append(row)
    return {
        "questionnaire": definition.id,
        "title": definition.title,
        "responses": len(answer_sets),
        "countries": len({a.country for a in answer_sets}),
        "rows": rows,
    }

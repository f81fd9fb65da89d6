"""``veille survey``: questionnaires defined in YAML, sent to agencies, answered, tallied."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veille.casework.errors import CaseworkError, ImportRefused, NotFound
from veille.core.cli_options import JsonOption, ready
from veille.output import console, fail, print_json, print_table
from veille.vocab import AgencyKind

survey_app = typer.Typer(
    help="Questionnaires: define in YAML, send to agencies, collect and tally answers.",
    no_args_is_help=True,
)


@survey_app.command("define")
def survey_define(
    file: Annotated[Path, typer.Argument(help="The questionnaire (YAML, or the scenario's JSON).")],
) -> None:
    """Define a questionnaire from a file (every field checked; a bad one is named)."""
    from veille.casework.survey import define_questionnaire
    from veille.casework.survey_definition import load_definition
    from veille.store.audit import current_actor

    try:
        definition = load_definition(file)
    except CaseworkError as error:
        fail(f"{file}: {error}", 2)
    with ready().session() as session:
        try:
            row, new = define_questionnaire(session, definition, actor=current_actor())
        except CaseworkError as error:
            fail(str(error), 1)
        word = "defined" if new else "unchanged"
        console.print(
            f"questionnaire {row.key}: {word}, {len(definition.questions)} questions",
            highlight=False,
        )


@survey_app.command("send")
def survey_send(
    questionnaire: Annotated[str, typer.Argument(help="The questionnaire's id.")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="An agency (name or id; repeatable).")
    ] = None,
    kind: Annotated[
        AgencyKind | None, typer.Option("--kind", help="Every agency of this kind.")
    ] = None,
) -> None:
    """Record that a questionnaire was sent to agencies."""
    from veille.casework.survey import agencies_of_kind, send_questionnaire
    from veille.store.agencies import AgencyNotFound, find_agency
    from veille.store.audit import current_actor

    if not to and kind is None:
        fail("say who receives it: --to AGENCY (repeatable) or --kind KIND", 2)
    with ready().session() as session:
        try:
            ids = [find_agency(session, name).id for name in to or []]
        except AgencyNotFound as error:
            fail(f"--to: {error}", 2)
        if kind is not None:
            ids.extend(agencies_of_kind(session, kind))
        try:
            new = send_questionnaire(session, questionnaire, ids, actor=current_actor())
        except NotFound as error:
            fail(str(error), 1)
    console.print(f"sent to {new} more agencies", highlight=False)


@survey_app.command("import")
def survey_import(
    file: Annotated[
        Path, typer.Argument(help="JSON Lines of answer sets (questionnaire-answers.jsonl).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Import answers (all or nothing; a bad answer is named with its line and question)."""
    from veille.casework.survey import import_answers
    from veille.store.audit import current_actor

    try:
        summary = import_answers(ready(), file, actor=current_actor())
    except ImportRefused as error:
        fail(str(error), 1)
    if as_json:
        print_json(summary.as_dict())
    else:
        console.print(f"{summary.recorded} answer sets recorded", highlight=False)


@survey_app.command("list")
def survey_list(as_json: JsonOption = False) -> None:
    """The questionnaires, with how many agencies answered."""
    from veille.casework.survey import questionnaires_for

    with ready().session() as session:
        rows = questionnaires_for(session, None)
    if as_json:
        print_json(rows)
    else:
        print_table("questionnaires", rows, ["id", "title", "questions", "responses"])


@survey_app.command("results")
def survey_results(
    questionnaire: Annotated[str, typer.Argument(help="The questionnaire's id.")],
    as_json: JsonOption = False,
) -> None:
    """Answers counted per question and choice (--json: every agency's answers too)."""
    from veille.casework.survey import survey_answers, tally

    with ready().session() as session:
        try:
            definition, answer_sets = survey_answers(session, questionnaire)
        except NotFound as error:
            fail(str(error), 1)
    counts = tally(definition, answer_sets)
    if as_json:
        print_json({"tally": counts, "responses": [s.as_dict() for s in answer_sets]})
        return
    choices = list(dict.fromkeys(k for row in counts for k in row if k not in ("question",)))
    print_table(f"{definition.id}: {len(answer_sets)} responses", counts, ["question", *choices])

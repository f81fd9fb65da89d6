"""``veille triage`` and ``veille refer``: scores, queues, policy and referrals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from veille.core.cli_options import (
    AllOption,
    AsOption,
    JsonOption,
    agency_name,
    agency_only,
    agency_viewer,
    minute,
    read_as_viewer,
    ready,
    second,
)
from veille.output import console, counting_progress, fail, print_json, print_table
from veille.triage.models import Outcome, QueueState

triage_app = typer.Typer(
    help="Scores with reasons, work queues and the scoring policy.", no_args_is_help=True
)
policy_app = typer.Typer(help="The scoring policy (a versioned YAML file).", no_args_is_help=True)
capacity_app = typer.Typer(help="How many reports a unit can assess per day.", no_args_is_help=True)
refer_app = typer.Typer(
    help="Refer reports to the competent agency; list and acknowledge referrals.",
    no_args_is_help=True,
)
triage_app.add_typer(policy_app, name="policy")
triage_app.add_typer(capacity_app, name="capacity")


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--as-of: {value!r} is not a date or time (expected YYYY-MM-DD[THH:MM])", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@triage_app.command("score")
def triage_score(
    rescore_all: Annotated[
        bool, typer.Option("--all", help="Re-score every report (after a policy change).")
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Re-score every report whose facts changed (late matches, flags, links).",
        ),
    ] = False,
    as_of: Annotated[
        str | None, typer.Option(help="Score as if it were this time (recency); default now.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score the reports not scored yet (or all of them with --all, or changed ones with --refresh)."""
    from veille.triage.scoring import all_report_ids, score_reports

    database = ready()
    ids = None
    if rescore_all or refresh:
        with database.session() as session:
            ids = all_report_ids(session)
    with counting_progress("scoring reports", None if ids is None else len(ids)) as on_progress:
        summary = score_reports(
            database,
            ids,
            trigger="policy" if rescore_all else "refresh" if refresh else "new",
            as_of=_as_of(as_of),
            force=rescore_all,
            on_progress=on_progress,
        )
    if as_json:
        print_json(summary.as_dict())
    else:
        console.print(f"policy {summary.policy_version}: {summary.describe()}", highlight=False)


def _reasons_text(reasons: list[dict[str, Any]], top: int | None = 3) -> str:
    chosen = reasons if top is None else reasons[:top]
    text = "; ".join(f"{r['factor']} {r['contribution']:+g}" for r in chosen)
    return text + (" …" if top is not None and len(reasons) > top else "")


@triage_app.command("queue")
def triage_queue(
    as_agency: AsOption = None,
    state: Annotated[
        list[QueueState] | None,
        typer.Option(help="States to show (default: new, assigned, in_progress)."),
    ] = None,
    assignee: Annotated[
        str | None, typer.Option(help="Only items assigned to this analyst.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip.")] = 0,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Judge overdue, due today and today's capacity at this time "
            "(e.g. 2021-06-30T17:00:00Z); default now."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Your agency's work queue: by band then due time, with reasons and today's capacity."""
    from veille.triage.queue import OPEN_STATES, queue_for

    moment = _as_of(as_of)
    with ready().session() as session:
        viewer = agency_only(session, as_agency)
        assert viewer.agency_id is not None
        view = queue_for(
            session,
            viewer.agency_id,
            viewer.actor,
            states=tuple(state) if state else OPEN_STATES,
            assignee=assignee,
            limit=limit,
            offset=offset,
            as_of=moment,
        )
        name = agency_name(session, viewer.agency_id)
    if as_json:
        print_json(
            {
                "agency": name,
                "as_of": view.as_of,
                "summary": view.summary(),
                "open_total": view.open_total,
                "open_by_band": view.open_by_band,
                "overdue": view.overdue,
                "due_later_today": view.due_later_today,
                "capacity_per_day": view.capacity_per_day,
                "handled_today": view.handled_today,
                "not_reached_today": view.not_reached_today,
                "not_reached_by_band": view.not_reached_by_band,
                "items": view.items,
            }
        )
        return
    rows = [
        {
            "#": item["position"],
            "report": item["report_id"],
            "band": item["band"],
            "score": f"{item['score']:g}",
            "due": minute(item["due_at"]),
            "today": {True: "yes", False: "NOT REACHED", None: ""}[item["reached_today"]],
            "state": item["state"],
            "assignee": item["assignee"],
            "country": item["country"],
            "why": _reasons_text(item["reasons"]),
        }
        for item in view.items
    ]
    # Columns that would be empty on every row only take room from the others.
    columns = [
        column
        for column in ("#", "report", "band", "score", "due", "today", "state", "assignee")
        if any(row[column] for row in rows)
    ]
    columns.append("country")
    # Below this width the reasons would fold into a column a few letters wide:
    # they go under the table instead, one line per row.
    reasons_below = console.width < QUEUE_TABLE_WIDTH
    when = "" if moment is None else f" at {minute(view.as_of)}"
    first, *others = view.summary_parts()
    # Left-aligned lines, not a centred table title: each part stays readable when wrapped.
    console.print(f"[bold]{name}[/]{when}: {first}", highlight=False)
    for part in others:
        console.print(part, highlight=False)
    print_table("", rows, columns if reasons_below else [*columns, "why"])
    if reasons_below:
        for row in rows:
            console.print(f"#{row['#']} report {row['report']}: {row['why']}", highlight=False)


QUEUE_TABLE_WIDTH = 120
"""The narrowest terminal that shows the queue's reasons as a table column."""


@triage_app.command("explain")
def triage_explain(
    report_id: Annotated[int, typer.Argument(help="Report id.")],
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
) -> None:
    """Why a report has its score: every factor with its contribution and evidence."""
    from veille.store.reports import ReportNotFound
    from veille.triage.explain import explain_report

    detail = read_as_viewer(
        ready(),
        as_agency,
        all_agencies,
        lambda session, viewer: explain_report(session, viewer, report_id),
        ReportNotFound,
    )
    if as_json:
        print_json(detail)
        return
    state = "" if detail["stored"] else " (not stored yet: evaluated now)"
    console.print(
        f"[bold]report {detail['report_id']}[/]: score {detail['score']:g}, band {detail['band']}, "
        f"due {minute(detail['due_at']) or '-'}; policy {detail['policy_version']}{state}",
        highlight=False,
    )
    print_table("reasons", detail["reasons"], ["factor", "contribution", "detail"])
    if detail["cluster"]:
        c = detail["cluster"]
        console.print(
            f"case cluster {c['cluster_id']}: {c['size']} reports, {c['agencies']} agencies, "
            f"{c['countries']} countries",
            highlight=False,
        )
    for item in detail["queue"]:
        console.print(
            f"in the queue of {item['agency']}: {item['state']}"
            + (f" ({item['assignee']})" if item["assignee"] else "")
            + (f", outcome {item['outcome']}" if item["outcome"] else ""),
            highlight=False,
        )
    if detail["referrals"]:
        print_table(
            "referrals",
            [
                {
                    **row,
                    "created_at": second(row["created_at"]),
                    "acknowledged_at": second(row["acknowledged_at"]),
                }
                for row in detail["referrals"]
            ],
            ["id", "to", "created_at", "acknowledged_at", "reason"],
        )


def _move(report_id: int, as_agency: str | None, state: QueueState, **options: Any) -> None:
    from veille.triage.queue import QueueError, QueueItemNotFound, change_state

    problem: tuple[str, int] | None = None
    with ready().session() as session:
        viewer = agency_only(session, as_agency)
        assert viewer.agency_id is not None
        try:
            item = change_state(
                session, viewer.agency_id, report_id, state, viewer.actor, **options
            )
            message = (
                f"report {report_id}: {item.state.value}"
                + (f" ({item.assignee})" if item.assignee else "")
                + (f", outcome {item.outcome.value}" if item.outcome else "")
            )
        except QueueError as error:
            problem = (str(error), 2)
        except QueueItemNotFound as error:
            problem = (str(error), 1)
    if problem:
        fail(*problem)
    console.print(message)


ReportArg = Annotated[int, typer.Argument(help="Report id.")]
NoteOption = Annotated[str | None, typer.Option(help="A note kept with the queue item.")]


@triage_app.command("assign")
def triage_assign(
    report_id: ReportArg,
    to: Annotated[str, typer.Option("--to", help="Analyst.")],
    as_agency: AsOption = None,
    note: NoteOption = None,
) -> None:
    """Assign a report in your queue to an analyst."""
    _move(report_id, as_agency, QueueState.ASSIGNED, assignee=to, note=note)


@triage_app.command("start")
def triage_start(report_id: ReportArg, as_agency: AsOption = None, note: NoteOption = None) -> None:
    """Mark a report as in progress."""
    _move(report_id, as_agency, QueueState.IN_PROGRESS, note=note)


@triage_app.command("close")
def triage_close(
    report_id: ReportArg,
    outcome: Annotated[Outcome, typer.Option(help="How it ended.")],
    as_agency: AsOption = None,
    note: NoteOption = None,
) -> None:
    """Close a report with its outcome."""
    _move(report_id, as_agency, QueueState.CLOSED, outcome=outcome, note=note)


@triage_app.command("reopen")
def triage_reopen(
    report_id: ReportArg, as_agency: AsOption = None, note: NoteOption = None
) -> None:
    """Put a report back to new (unassigned)."""
    _move(report_id, as_agency, QueueState.NEW, note=note)


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(help="Policy YAML file.", dir_okay=False)],
) -> None:
    """Validate a policy file; each error names the key at fault (exit code 2)."""
    from veille.triage.policy import PolicyError, read_policy_file

    try:
        policy = read_policy_file(file)
    except PolicyError as error:
        for message in error.messages:
            console.print(f"[red]{error.source}: {message}[/]", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"{file}: policy {policy.version} is valid "
        f"({len(policy.spec.factors)} factors, bands {', '.join(policy.spec.bands)})"
    )


@policy_app.command("load")
def policy_load(
    file: Annotated[Path, typer.Argument(help="Policy YAML file.", dir_okay=False)],
    rescore: Annotated[
        bool, typer.Option(help="Re-score every report with the new policy.")
    ] = True,
) -> None:
    """Make a policy the active one; a file with an error leaves the active policy as it was."""
    from veille.store.audit import current_actor
    from veille.triage.policy import PolicyError, install_policy
    from veille.triage.scoring import all_report_ids, score_reports

    database = ready()
    try:
        text = file.read_text(encoding="utf-8")
        with database.session() as session:
            policy = install_policy(session, text, actor=current_actor(), source=str(file))
            ids = all_report_ids(session) if rescore else []
    except PolicyError as error:
        for message in error.messages:
            console.print(f"[red]{error.source}: {message}[/]", highlight=False)
        console.print("the active policy is unchanged")
        raise typer.Exit(2) from None
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{file}: cannot read the file: {error}", 2)
    console.print(f"policy {policy.version} is active")
    if ids:
        with counting_progress("re-scoring reports", len(ids)) as on_progress:
            summary = score_reports(database, ids, trigger="policy", on_progress=on_progress)
        console.print(summary.describe(), highlight=False)


@policy_app.command("show")
def policy_show(as_json: JsonOption = False) -> None:
    """Show the active policy: factors, weights, bands and due times."""
    from veille.triage.policy import active_policy, describe_policy

    with ready().session() as session:
        described = describe_policy(active_policy(session))
    if as_json:
        print_json(described)
        return
    console.print(
        f"[bold]policy {described['version']}[/]: {described['description']}", highlight=False
    )
    print_table(
        "factors",
        [{"factor": k, **v} for k, v in described["factors"].items()],
        ["factor", "weight", "meaning"],
    )
    print_table(
        "bands",
        [{"band": k, **v} for k, v in described["bands"].items()],
        ["band", "min_score", "due_hours"],
    )


@capacity_app.command("set")
def capacity_set(
    reports_per_day: Annotated[int, typer.Argument(min=0, help="Reports per day.")],
    as_agency: AsOption = None,
) -> None:
    """Set your unit's capacity (reports assessed per day)."""
    from veille.triage.queue import set_capacity

    with ready().session() as session:
        viewer = agency_only(session, as_agency)
        assert viewer.agency_id is not None
        set_capacity(session, viewer.agency_id, reports_per_day, viewer.actor)
    console.print(f"capacity set to {reports_per_day} reports/day")


def _target(session: Any, to: str | None) -> Any:
    if to is None:
        return None
    from veille.store.agencies import AgencyNotFound, find_agency

    try:
        return find_agency(session, to)
    except AgencyNotFound as error:
        fail(str(error), 2)


ToOption = Annotated[
    str | None, typer.Option("--to", help="Agency to refer to (default: the competent one).")
]
ReasonOption = Annotated[
    str | None, typer.Option(help="Why, in your words (added to the computed reason).")
]


@refer_app.command("report")
def refer_report_command(
    report_id: ReportArg,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    to: ToOption = None,
    reason: ReasonOption = None,
) -> None:
    """Refer one report you own to the competent agency (or --to one)."""
    from veille.store.reports import ReportNotFound
    from veille.triage.referral import ReferralError, refer_report

    problem: tuple[str, int] | None = None
    with ready().session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            referral = refer_report(
                session, viewer, report_id, to_agency=_target(session, to), reason=reason
            )
            message = (
                f"referral {referral.id}: report {report_id} → "
                f"{agency_name(session, referral.to_agency_id)} "
                f"({'shared' if referral.shared else 'TLP:RED, not shared'}): {referral.reason}"
            )
        except ReferralError as error:
            problem = (str(error), 2)
        except ReportNotFound as error:
            problem = (str(error), 1)
    if problem:
        fail(*problem)
    console.print(message, highlight=False)


@refer_app.command("cluster")
def refer_cluster_command(
    cluster_id: Annotated[str, typer.Argument(help="Case cluster id (cc-…).")],
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    to: ToOption = None,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Refer every report of a case cluster that your agency owns (bulk referral)."""
    from veille.linking.clusters import ClusterNotFound
    from veille.triage.referral import names_of_agencies, refer_cluster

    problem = None
    with ready().session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            result = refer_cluster(
                session, viewer, cluster_id, to_agency=_target(session, to), reason=reason
            )
            names = names_of_agencies(session, [r.to_agency_id for r in result.referred])
            referred = [
                {
                    "id": r.id,
                    "report_id": r.report_id,
                    "to_agency_id": r.to_agency_id,
                    "to_agency": names[r.to_agency_id],
                    "reason": r.reason,
                }
                for r in result.referred
            ]
            skipped = [{"report_id": rid, "why": why} for rid, why in result.skipped]
        except ClusterNotFound as error:
            problem = str(error)
    if problem:
        fail(problem, 1)
    if as_json:
        print_json({"referred": referred, "skipped": skipped})
        return
    print_table(
        f"{len(referred)} referrals",
        [{**row, "to": row["to_agency"]} for row in referred],
        ["id", "report_id", "to", "reason"],
    )
    if skipped:
        print_table(f"{len(skipped)} not referred", skipped, ["report_id", "why"])


@refer_app.command("suggest")
def refer_suggest(
    report_id: ReportArg, as_agency: AsOption = None, all_agencies: AllOption = False
) -> None:
    """Show the competent agency for a report and why, without referring it."""
    from veille.store.reports import ReportNotFound, get_report
    from veille.triage.referral import ReferralError, competent_agency

    problem: tuple[str, int] | None = None
    with ready().session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            competence = competent_agency(session, get_report(session, viewer, report_id))
            message = f"report {report_id} → {competence.agency.name}: {competence.reason}"
        except ReferralError as error:
            problem = (str(error), 2)
        except ReportNotFound as error:
            problem = (str(error), 1)
    if problem:
        fail(*problem)
    console.print(message, highlight=False)


@refer_app.command("list")
def refer_list(
    as_agency: AsOption = None,
    direction: Annotated[str, typer.Option(help="in, out or both.")] = "both",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Referrals your agency made or received (both sides see them)."""
    from veille.triage.referral import ReferralError, list_referrals

    problem = None
    with ready().session() as session:
        viewer = agency_only(session, as_agency)
        assert viewer.agency_id is not None
        try:
            rows = list_referrals(session, viewer.agency_id, direction=direction, limit=limit)
        except ReferralError as error:
            problem = str(error)
    if problem:
        fail(problem, 2)
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"{len(rows)} referrals",
            [
                {
                    **row,
                    "created_at": second(row["created_at"]),
                    "acknowledged_at": second(row["acknowledged_at"]),
                }
                for row in rows
            ],
            ["id", "report_id", "from", "to", "created_at", "acknowledged_at", "reason"],
        )


@refer_app.command("ack")
def refer_ack(
    referral_id: Annotated[int, typer.Argument(help="Referral id.")], as_agency: AsOption = None
) -> None:
    """Acknowledge a referral made to your agency."""
    from veille.triage.referral import acknowledge_referral

    problem = None
    with ready().session() as session:
        viewer = agency_only(session, as_agency)
        try:
            when = acknowledge_referral(session, viewer, referral_id)
        except LookupError as error:
            problem = str(error)
    if problem:
        fail(problem, 1)
    console.print(f"referral {referral_id} acknowledged at {when.isoformat()}")


def register(app: typer.Typer) -> None:
    """Add ``veille triage`` and ``veille refer`` to the CLI."""
    app.add_typer(triage_app, name="triage")
    app.add_typer(refer_app, name="refer")

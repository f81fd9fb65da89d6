"""``veille link`` and ``veille clusters``: run linking, manage the stop-list, read clusters."""

from __future__ import annotations

from typing import Annotated

import typer

from veille.core.cli_options import (
    AllOption,
    AsOption,
    JsonOption,
    agency_only,
    agency_viewer,
    read_as_viewer,
    ready,
    second,
)
from veille.output import console, counting_progress, fail, print_json, print_table

link_app = typer.Typer(
    help="Link reports into case clusters (incremental); manage the stop-list.",
    invoke_without_command=True,
)
stoplist_app = typer.Typer(help="Identifiers too common to link on.", no_args_is_help=True)
clusters_app = typer.Typer(help="Case clusters and deconfliction alerts.", no_args_is_help=True)
link_app.add_typer(stoplist_app, name="stoplist")


@link_app.callback()
def link_command(
    ctx: typer.Context,
    rebuild: Annotated[
        bool, typer.Option(help="Forget every cluster, link and alert and link all reports again.")
    ] = False,
    max_reports: Annotated[
        int, typer.Option(min=2, help="An identifier in more reports than this is not linked on.")
    ] = 1000,
    max_agencies: Annotated[
        int,
        typer.Option(
            min=1, help="An identifier in more agencies' reports than this is not linked on."
        ),
    ] = 10,
    max_countries_per_ip: Annotated[
        int,
        typer.Option(
            min=1, help="An IP address in reports of more countries than this is not linked on."
        ),
    ] = 2,
    max_accounts_per_address: Annotated[
        int,
        typer.Option(
            min=1,
            help="An IP address or device id behind more unrelated accounts than this "
            "is not linked on.",
        ),
    ] = 1,
    content: Annotated[
        bool,
        typer.Option(help="Also link reports whose new (unlisted) media share a content cluster."),
    ] = False,
    score: Annotated[
        bool, typer.Option(help="Score new reports and re-score those whose cluster changed.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Link the reports not linked yet (a new report joins or merges case clusters)."""
    if ctx.invoked_subcommand is not None:
        return
    from veille.linking.engine import link_reports
    from veille.linking.stoplist import LinkLimits

    database = ready()
    with counting_progress("linking reports") as on_progress:
        summary = link_reports(
            database,
            limits=LinkLimits(
                max_reports_per_key=max_reports,
                max_agencies_per_key=max_agencies,
                max_countries_per_ip=max_countries_per_ip,
                max_accounts_per_address=max_accounts_per_address,
            ),
            rebuild=rebuild,
            content_source=True if content else None,
            on_progress=on_progress,
        )
    result: dict[str, object] = {"linking": summary.as_dict()}
    scoring = None
    if score:
        from veille.linking.flow import rescore_now

        affected = summary.affected_report_ids
        with counting_progress("scoring reports") as on_progress:
            scoring = rescore_now(database, affected, on_progress)
        result["scoring"] = None if scoring is None else scoring.as_dict()
    if as_json:
        print_json(result)
        return
    link = summary.as_dict()
    console.print(
        f"linked {link['reports_linked']} reports: {link['links_recorded']} links, "
        f"{link['clusters_merged']} merges, {link['keys_stopped']} identifiers newly stop-listed, "
        f"{link['alerts_raised']} deconfliction alerts ({link['elapsed_s']} s)"
    )
    if scoring is not None:
        console.print(f"scoring: {scoring.describe()}", highlight=False)


@stoplist_app.command("list")
def stoplist_list(as_json: JsonOption = False) -> None:
    """Show the built-in networks and the stored entries."""
    from veille.linking.stoplist import list_stop_entries

    with ready().session() as session:
        rows = list_stop_entries(session)
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"{len(rows)} stop-list entries", rows, ["key", "source", "report_count", "reason"]
        )


@stoplist_app.command("add")
def stoplist_add(
    keys: Annotated[
        list[str],
        typer.Argument(help="KIND:VALUE entries, e.g. ip:203.0.113.7, ip:198.51.100.0/24."),
    ],
    reason: Annotated[str, typer.Option(help="Why (e.g. 'shared proxy of provider X').")],
) -> None:
    """Add identifiers or networks not to link on (run 'veille link --rebuild' to undo past links)."""
    from veille.linking.stoplist import StopListError, add_stop_entries, parse_stop_key
    from veille.store.audit import current_actor

    try:
        entries = {parse_stop_key(key)[0]: (reason, None) for key in keys}
    except StopListError as error:
        fail(str(error), 2)
    with ready().session() as session:
        added = add_stop_entries(session, entries, actor=current_actor(), source="manual")
    console.print(
        f"{added} entr{'y' if added == 1 else 'ies'} added, {len(entries) - added} already there"
    )


@stoplist_app.command("remove")
def stoplist_remove(key: Annotated[str, typer.Argument(help="KIND:VALUE entry.")]) -> None:
    """Remove a stored entry (built-in networks cannot be removed)."""
    from veille.linking.stoplist import StopListError, remove_stop_entry

    try:
        with ready().session() as session:
            removed = remove_stop_entry(session, key)
    except StopListError as error:
        fail(str(error), 2)
    if not removed:
        fail(f"{key!r} is not a stored stop-list entry", 1)
    console.print(f"removed {key}")


@clusters_app.command("list")
def clusters_list(
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    min_size: Annotated[int, typer.Option(min=1, help="Smallest cluster shown.")] = 2,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """List case clusters with a report you may see, largest first."""
    from veille.linking.clusters import list_clusters

    with ready().session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        rows, total = list_clusters(session, viewer, min_size=min_size, limit=limit, offset=offset)
    if as_json:
        print_json({"total": total, "clusters": rows})
    else:
        print_table(
            f"{len(rows)} of {total} case clusters",
            [{**row, "updated_at": second(row["updated_at"])} for row in rows],
            ["cluster_id", "size", "agencies", "countries", "updated_at"],
        )


@clusters_app.command("show")
def clusters_show(
    cluster_id: Annotated[str, typer.Argument(help="Case cluster id (cc-…).")],
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show a cluster: the reports you may see and the evidence of every link between them."""
    from veille.linking.clusters import ClusterNotFound, show_cluster

    detail = read_as_viewer(
        ready(),
        as_agency,
        all_agencies,
        lambda session, viewer: show_cluster(session, viewer, cluster_id),
        ClusterNotFound,
    )
    if as_json:
        print_json(detail)
        return
    console.print(
        f"[bold]case cluster {detail['cluster_id']}[/]: {detail['size']} reports, "
        f"{detail['agencies']} agencies, {detail['countries']} countries (reports you may see)",
        highlight=False,
    )
    print_table(
        "reports",
        [{**row, "received_at": second(row["received_at"])} for row in detail["reports"]],
        ["id", "received_at", "country", "platform_category", "owner", "marking"],
    )
    print_table(
        "links (evidence)", detail["links"], ["report_id", "other_report_id", "evidence", "key"]
    )
    if detail["candidates"]:
        print_table(
            "candidate links (weak evidence, not merged)",
            detail["candidates"],
            ["report_id", "other_report_id", "evidence", "key", "score"],
        )


@clusters_app.command("alerts")
def clusters_alerts(
    as_agency: AsOption = None,
    include_acknowledged: Annotated[
        bool, typer.Option("--all", help="Also show acknowledged alerts.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Deconfliction alerts: other agencies holding reports of your case clusters."""
    from veille.linking.deconfliction import list_alerts

    with ready().session() as session:
        viewer = agency_only(session, as_agency)
        assert viewer.agency_id is not None
        alerts = list_alerts(session, viewer.agency_id, include_acknowledged=include_acknowledged)
    rows = [
        {
            "id": a.id,
            "cluster_id": a.cluster_id,
            "other_agency": a.other_agency,
            "other_country": a.other_country,
            "created_at": a.created_at,
            "acknowledged_at": a.acknowledged_at,
            "message": a.message,
        }
        for a in alerts
    ]
    if as_json:
        print_json(rows)
    else:
        # The message repeats the cluster and the agency: the columns say it in less room.
        print_table(
            f"{len(rows)} deconfliction alerts: other agencies holding reports of your cases",
            [
                {
                    "id": a.id,
                    "cluster_id": a.cluster_id,
                    "also_held_by": f"{a.other_agency} ({a.other_country or '?'})",
                    "created_at": second(a.created_at),
                    "acknowledged": "no" if a.acknowledged_at is None else "yes",
                }
                for a in alerts
            ],
            ["id", "cluster_id", "also_held_by", "created_at"]
            + (["acknowledged"] if include_acknowledged else []),
        )


@clusters_app.command("ack")
def clusters_ack(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    as_agency: AsOption = None,
) -> None:
    """Acknowledge a deconfliction alert addressed to your agency."""
    from veille.linking.deconfliction import acknowledge_alert

    problem = None
    with ready().session() as session:
        viewer = agency_only(session, as_agency)
        assert viewer.agency_id is not None
        try:
            acknowledge_alert(session, alert_id, viewer.agency_id, viewer.actor)
        except LookupError as error:
            problem = str(error)
    if problem:
        fail(problem, 1)
    console.print(f"alert {alert_id} acknowledged")


def register(app: typer.Typer) -> None:
    """Add ``veille link`` and ``veille clusters`` to the CLI."""
    app.add_typer(link_app, name="link")
    app.add_typer(clusters_app, name="clusters")

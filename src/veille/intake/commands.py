"""CLI of the intake channels: API keys, ESP credentials, media worker, expiry."""

from __future__ import annotations

from typing import Annotated

import typer

from veille.output import console, fail, print_json, print_table

keys_app = typer.Typer(
    help="REST API keys of agencies (the secret is shown once).", no_args_is_help=True
)
esp_app = typer.Typer(help="The CyberTipline-compatible ESP API.", no_args_is_help=True)
credentials_app = typer.Typer(
    help="ESP logins (HTTP Basic) mapped to agencies.", no_args_is_help=True
)
intake_app = typer.Typer(
    help="Intake background work: media hashing, expiry.", no_args_is_help=True
)
esp_app.add_typer(credentials_app, name="credentials")


@keys_app.command("create")
def keys_create(
    agency: Annotated[str, typer.Option("--agency", help="Agency the key acts for (name or id).")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="reports:write, reports:read and/or admin; repeatable."),
    ],
    label: Annotated[str | None, typer.Option(help="A note saying who uses the key.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an API key; only its SHA-256 is stored, so copy the secret now."""
    from veille.core.database import ready_database
    from veille.intake.credentials import create_api_key
    from veille.store.agencies import AgencyNotFound

    database = ready_database()
    try:
        with database.session() as session:
            key_id, secret = create_api_key(session, agency, scope, label)
    except (AgencyNotFound, ValueError) as error:
        fail(str(error), 2)
    if as_json:
        print_json({"id": key_id, "key": secret, "scopes": sorted(set(scope))})
    else:
        console.print(f"key {key_id} created; secret (shown once): {secret}", highlight=False)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the API keys (never their secrets)."""
    from veille.core.database import ready_database
    from veille.intake.credentials import list_api_keys
    from veille.store.agencies import list_agencies

    database = ready_database()
    with database.session() as session:
        names = {agency.id: agency.name for agency in list_agencies(session)}
        rows = [
            {
                "id": k.id,
                "agency": names.get(k.agency_id, str(k.agency_id)),
                "agency_id": k.agency_id,
                "label": k.label,
                "scopes": k.scopes,
                "created_at": k.created_at,
                "revoked_at": k.revoked_at,
            }
            for k in list_api_keys(session)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"{len(rows)} API keys",
            rows,
            ["id", "agency", "label", "scopes", "created_at", "revoked_at"],
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="Key id (see 'veille keys list').")],
) -> None:
    """Revoke an API key at once."""
    from veille.core.database import ready_database
    from veille.intake.credentials import revoke_api_key

    database = ready_database()
    with database.session() as session:
        done = revoke_api_key(session, key_id)
    if not done:
        fail(f"key {key_id}: no such active key", 2)
    console.print(f"key {key_id} revoked")


@credentials_app.command("set")
def credentials_set(
    agency: Annotated[str, typer.Option("--agency", help="The ESP agency (name or id).")],
    username: Annotated[str, typer.Option("--username", help="Login the provider's client sends.")],
    password: Annotated[
        str | None,
        typer.Option(
            help="Password; default: a random one, printed once.", envvar="VEILLE_ESP_PASSWORD"
        ),
    ] = None,
) -> None:
    """Create or replace an ESP login; reports sent with it are owned by the agency."""
    from veille.core.database import ready_database
    from veille.intake.credentials import set_esp_credentials
    from veille.store.agencies import AgencyNotFound

    database = ready_database()
    try:
        with database.session() as session:
            chosen = set_esp_credentials(session, agency, username, password)
    except (AgencyNotFound, ValueError) as error:
        fail(str(error), 2)
    shown = "(as given)" if password else chosen
    console.print(f"ESP login {username!r} set for {agency}; password: {shown}", highlight=False)


@esp_app.command("xsd")
def esp_xsd() -> None:
    """Print the XSD of the report and fileDetails documents the API accepts."""
    from veille.intake.esp.spec import xsd_text

    print(xsd_text(), end="")


@intake_app.command("work")
def intake_work() -> None:
    """Hash and match every waiting uploaded file now, then expire stale ESP reports."""
    from veille.core.database import ready_database
    from veille.intake.esp.service import expire_reports
    from veille.intake.settings import IntakeSettings
    from veille.intake.tasks import may_hash
    from veille.intake.worker import MediaWorker

    database = ready_database()
    if not may_hash(database):
        fail(
            "another process (veille serve or a veille worker) hashes the files of this "
            "SQLite database; stop it first, or let it work",
            1,
        )
    worker = MediaWorker(database, keep_files=IntakeSettings().keep_files)
    worker.drain()
    expired = expire_reports(database)
    console.print(
        f"hashed {worker.hashed} file(s), matched {worker.matched_reports} report(s), "
        f"expired {expired} unfinished ESP report(s)"
    )


def register(app: typer.Typer) -> None:
    """Add ``veille keys``, ``veille esp`` and ``veille intake`` to the CLI."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(esp_app, name="esp")
    app.add_typer(intake_app, name="intake")

"""``veille serve``: run the web server (ESP API, REST API, public pages)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``veille serve`` to the CLI."""

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
        workers: Annotated[
            int,
            typer.Option(min=1, max=64, help="Server processes (PostgreSQL only; SQLite uses 1)."),
        ] = 1,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    ) -> None:
        """Serve the ESP API (/ispws), the REST API (/api/v1, docs at /docs) and the hotline form."""
        import uvicorn

        from veille.config import get_settings
        from veille.core.database import ready_database

        database = ready_database()
        if workers > 1 and database.dialect == "sqlite":
            typer.echo("--workers > 1 needs PostgreSQL; serving with one process", err=True)
            workers = 1
        database.dispose()
        settings = get_settings()
        keep_alive_s = settings.serve_keep_alive_s
        grace_s = settings.serve_shutdown_grace_s
        # proxy_headers=False: X-Forwarded-For is read by the app, from VEILLE_TRUSTED_PROXIES
        # only (veille.web.peers); uvicorn's own reading would believe any local client.
        if workers == 1:
            from veille.web.app import create_app

            uvicorn.run(
                create_app(),
                host=host,
                port=port,
                log_level=log_level,
                proxy_headers=False,
                timeout_keep_alive=keep_alive_s,
                timeout_graceful_shutdown=grace_s,
            )
        else:
            uvicorn.run(
                "veille.web.app:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                proxy_headers=False,
                timeout_keep_alive=keep_alive_s,
                timeout_graceful_shutdown=grace_s,
            )

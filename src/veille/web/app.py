"""The FastAPI application factory.

``create_app()`` opens the configured database (or uses the one given),
mounts the ESP API (``/ispws``), the REST API (``/api/v1``), the public
hotline form, the in-app and SMS endpoints and the static files, and runs the
media worker in a background thread while the app is served.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from veille import __version__
from veille.intake.esp.service import expire_reports
from veille.intake.settings import IntakeSettings
from veille.intake.worker import MediaWorker, warm_up_hashing
from veille.store.db import Database, open_database
from veille.web.state import AppState

STATIC_DIR = Path(__file__).parent / "static"


def _housekeeping(state: AppState, stop: threading.Event, every_s: float = 60.0) -> None:
    while not stop.wait(every_s):
        try:
            expire_reports(state.database)
        except Exception:  # logged by the server; the next pass retries
            import logging

            logging.getLogger(__name__).exception("expiring ESP reports failed")


def create_app(database: Database | None = None, settings: IntakeSettings | None = None) -> FastAPI:
    """The Veille web app on ``database`` (default: the configured one)."""
    state = AppState(database or open_database(), settings or IntakeSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if state.settings.worker_enabled:
            await run_in_threadpool(warm_up_hashing, state.settings.resolved_spool_dir())
            gate = state.write_gate if state.database.dialect == "sqlite" else None
            state.worker = MediaWorker(
                state.database, keep_files=state.settings.keep_files, write_gate=gate
            )
            state.worker.start(state.settings.worker_poll_s)
        cleaner = threading.Thread(target=_housekeeping, args=(state, stop), daemon=True)
        cleaner.start()
        try:
            yield
        finally:
            stop.set()
            if state.worker is not None:
                state.worker.stop()

    app = FastAPI(
        title="Veille",
        version=__version__,
        description="Intake of reports of child sexual exploitation: REST API. The "
        "CyberTipline-compatible ESP API lives under /ispws (XML; schema at /ispws/xsd).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.veille = state

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(part) for part in item["loc"]),
                "reason": item["msg"],
            }
            for item in error.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    from veille.web import api_routes, docs_routes, esp_routes, public_routes

    app.include_router(esp_routes.router)
    app.include_router(api_routes.router)
    app.include_router(public_routes.router)
    app.include_router(docs_routes.router)
    # Other capabilities' routes under the same API prefix and authentication.
    from veille.linking.api import router as linking_router
    from veille.triage.api import router as triage_router

    app.include_router(linking_router(), prefix="/api/v1")
    app.include_router(triage_router(), prefix="/api/v1")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

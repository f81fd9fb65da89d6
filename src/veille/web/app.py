"""The FastAPI application factory.

``create_app()`` opens the configured database (or uses the one given),
mounts the ESP API (``/ispws``), the REST API (``/api/v1``), the public
hotline form, the in-app and SMS endpoints and the static files, and, with
the job system's consumer in this process (``VEILLE_JOBS_IN_SERVE``, the
default), runs that consumer (``veille.flow``'s steps) and the media worker
in a background thread that yields to requests, while the app is served (on
PostgreSQL, with a pool of asynchronous connections for the ESP API's hot
calls). With the consumer off, dedicated ``veille worker`` processes hash and
match (intake's ``media.work`` task).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from huey.consumer import Consumer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from veille import __version__
from veille.flow import job_system
from veille.intake.country import ip_country
from veille.intake.esp.lifecycle import expire_reports
from veille.intake.hashing_process import LowPriorityHasher
from veille.intake.media_hashing import hash_in_thread, warm_up_hashing
from veille.intake.settings import IntakeSettings
from veille.intake.tasks import attach_local_worker, detach_local_worker, may_hash
from veille.intake.worker import MediaWorker
from veille.store.db import Database, create_veille_engine
from veille.store.raw import AsyncPgPool
from veille.web import esp_routes
from veille.web.api_models import API_ERRORS
from veille.web.limits import BodyGuard, body_rule
from veille.web.params import refuse_repeated_scalars
from veille.web.peers import proxy_networks, resolve_client
from veille.web.protection import FormGuards
from veille.web.state import AppState

STATIC_DIR = Path(__file__).parent / "static"


def _housekeeping(state: AppState, stop: threading.Event, every_s: float = 60.0) -> None:
    while not stop.wait(every_s):
        try:
            expire_reports(state.database)
        except Exception:  # logged by the server; the next pass retries
            logging.getLogger(__name__).exception("expiring ESP reports failed")


def _start_consumer(state: AppState) -> Consumer:
    """The job system's consumer, in threads of this process (``VEILLE_JOBS_IN_SERVE``)."""
    consumer = job_system(state.database).consumer(state.settings.jobs_threads, in_process=True)
    consumer.shutdown_timeout = 10
    consumer.start()
    return consumer


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of ``app`` serves at the request's path."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, BaseRoute) and route.matches(scope)[0] is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def open_server_database(url: str | None = None) -> Database:
    """The configured database (or ``url``) with a connection pool sized for the server.

    Requests that touch the database run in anyio's worker threads (up to 40
    at once), except the ESP API's hot calls on PostgreSQL, which have their
    own asynchronous connections (:class:`veille.store.raw.AsyncPgPool`, up
    to 16). SQLAlchemy's default pool keeps 5 connections and closes any
    extra one when it is returned, so under load most requests opened a new
    PostgreSQL connection, and starting a PostgreSQL backend costs more CPU
    than the request itself; this pool keeps 10 and opens up to 10 more.
    A server process thus holds at most 36 PostgreSQL connections, plus one
    or two for its hashing process (docs/intake.md, "Settings").
    """
    if url is None:
        from veille.config import get_settings

        url = get_settings().resolved_database_url()
    # No ping before each checkout (one round trip per request, ~1.5 ms per
    # complete ESP report): a connection broken by a database restart fails
    # one request, and SQLAlchemy then discards every older pooled connection.
    return Database(
        create_veille_engine(
            url, prepare=True, pool_size=10, max_overflow=10, pool_pre_ping=False, pool_recycle=600
        )
    )


class VeilleApp(FastAPI):
    """FastAPI, with the CyberTipline-compatible ``/ispws`` routes answered before its routing.

    Every HTTP request first gets its client address (:mod:`veille.web.peers`)
    and the limits on its body (:mod:`veille.web.limits`), whichever route
    answers it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state: AppState = self.state.veille
            state.last_request_at = time.monotonic()
            resolve_client(scope, state.trusted_proxies)
            guard = BodyGuard(
                body_rule(scope["path"], state.settings), state.settings, scope, receive, send
            )
            if guard.declared_too_large and not guard.rule.answered_by_route:
                await guard.refuse_declared()
                return
            receive, send = guard.receive, guard.send
            if scope["path"].startswith(esp_routes.PREFIX):
                scope["app"] = self
                await esp_routes.serve(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(database: Database | None = None, settings: IntakeSettings | None = None) -> FastAPI:
    """The Veille web app on ``database`` (default: the configured one)."""
    state = AppState(database or open_server_database(), settings or IntakeSettings())
    state.trusted_proxies = proxy_networks(state.settings.trusted_proxies)
    form_guards = FormGuards(state.database, state.settings.form_rate_limit)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        hasher: LowPriorityHasher | None = None
        consumer: Consumer | None = None
        # The form's shared secrets, read (or created) before the first request; the IP
        # country database loaded now, not by the first request that needs it.
        await run_in_threadpool(form_guards.load)
        await run_in_threadpool(ip_country, "192.0.2.1")
        # Whatever was started before a failure is stopped again in `finally`.
        try:
            if state.database.dialect == "postgresql":
                state.pg = AsyncPgPool(state.database.engine)
                await state.pg.open()
            # Dedicated `veille worker` processes (VEILLE_JOBS_IN_SERVE=false) hash and match
            # as the job system's `media.work`; with the consumer here, this process's media
            # worker thread does, yielding to requests, and `media.work` only wakes it.
            in_serve_worker = state.settings.worker_enabled and state.settings.jobs_in_serve
            if in_serve_worker and not await run_in_threadpool(may_hash, state.database):
                logging.getLogger(__name__).warning(
                    "another process hashes the files of this SQLite database: this server "
                    "starts no media worker (one per SQLite database)"
                )
                in_serve_worker = False
            if in_serve_worker:
                spool_dir = state.settings.resolved_spool_dir()
                if state.settings.worker_hash_process:
                    hasher = LowPriorityHasher(spool_dir, state.settings.worker_hash_nice)
                else:
                    await run_in_threadpool(warm_up_hashing, spool_dir)
                sqlite = state.database.dialect == "sqlite"
                matcher = None
                if hasher is not None and not sqlite:
                    # On SQLite matching stays in the thread, behind the process's write
                    # gate: a low-priority process holding SQLite's only write lock would
                    # stall requests.
                    url = state.database.engine.url.render_as_string(hide_password=False)
                    matcher = partial(hasher.match, url)
                state.worker = MediaWorker(
                    state.database,
                    keep_files=state.settings.keep_files,
                    write_gate=state.write_gate if sqlite else None,
                    hasher=hasher or hash_in_thread,
                    matcher=matcher,
                    busy=state.busy
                    if state.settings.worker_quiet_s > 0 or state.settings.worker_min_idle_cpu > 0
                    else None,
                    max_pause_s=state.settings.worker_max_pause_s,
                    busy_match_every_s=state.settings.worker_busy_match_every_s,
                )
                state.worker.start(state.settings.worker_poll_s)
            if state.settings.jobs_in_serve:
                attach_local_worker(state.database, state.worker)
                consumer = await run_in_threadpool(_start_consumer, state)
            cleaner = threading.Thread(target=_housekeeping, args=(state, stop), daemon=True)
            cleaner.start()
            yield
        finally:
            stop.set()
            if consumer is not None:
                await run_in_threadpool(consumer.stop, True)
            detach_local_worker(state.database)
            if state.worker is not None:
                state.worker.stop()
            if hasher is not None:
                hasher.close()
            if state.pg is not None:
                pool, state.pg = state.pg, None
                await pool.close()

    app = VeilleApp(
        title="Veille",
        version=__version__,
        description="Intake of reports of child sexual exploitation: REST API. The "
        "CyberTipline-compatible ESP API lives under /ispws (XML; schema at /ispws/xsd).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.veille = state
    from veille.web.auth import install_api_keys

    install_api_keys(app)
    app.state.form_guards = form_guards

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

    @app.exception_handler(StarletteHTTPException)
    async def api_problem(request: Request, error: StarletteHTTPException) -> Response:
        # Starlette's and FastAPI's own refusals (a body that is not JSON, 404, 405) carry
        # a plain string; the REST API answers every refusal as its documented problem list.
        if request.url.path.startswith("/api/") and isinstance(error.detail, str):
            headers = dict(error.headers or {})
            if error.status_code == 405:
                # Starlette names the methods of the first route whose path matched; a path
                # served by several routes (GET and POST /api/v1/reports) allows them all.
                headers["Allow"] = ", ".join(_allowed_methods(app, request.scope))
            return JSONResponse(
                {"detail": [{"field": "(request)", "reason": error.detail}]},
                status_code=error.status_code,
                headers=headers,
            )
        return await http_exception_handler(request, error)

    from veille.web import (
        admin_routes,
        analyst_routes,
        api_routes,
        capability_pages,
        docs_routes,
        public_routes,
    )
    from veille.web.signin import LoginRequired, PasswordChangeRequired, login_redirect

    @app.exception_handler(LoginRequired)
    async def to_login(_: Request, error: LoginRequired) -> Response:
        return RedirectResponse(login_redirect(error.next_path), status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def to_password(_: Request, __: PasswordChangeRequired) -> Response:
        return RedirectResponse("/app/account/password", status_code=303)

    app.include_router(api_routes.router)
    app.include_router(public_routes.router)
    app.include_router(docs_routes.router)
    app.include_router(analyst_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(capability_pages.router)
    # Other capabilities' routes under the same API prefix and authentication.
    from veille.contract import api_routers, page_routers

    for page_router in page_routers():
        app.include_router(page_router)
    for capability_router in api_routers():
        app.include_router(
            capability_router,
            prefix="/api/v1",
            responses=API_ERRORS,
            dependencies=[Depends(refuse_repeated_scalars)],
        )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

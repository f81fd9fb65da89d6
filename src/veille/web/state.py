"""What every route needs: the database, the settings and the media worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.requests import Request

from veille.intake.settings import IntakeSettings
from veille.intake.worker import MediaWorker
from veille.store.db import Database

T = TypeVar("T")


@dataclass
class AppState:
    """Shared by the routes of one app."""

    database: Database
    settings: IntakeSettings
    worker: MediaWorker | None = None
    write_gate: threading.Lock = field(default_factory=threading.Lock)
    # time.monotonic() of the latest request, for the media worker's "is the server busy?"
    last_request_at: float = 0.0

    def serialised(self, function: Callable[[], T]) -> T:
        """Run a writing call; on SQLite one at a time in this process.

        SQLite admits one writer; letting threads queue on a Python lock
        avoids SQLite's busy-wait sleeps (up to 100 ms each), which made tail
        latencies long under concurrent requests. PostgreSQL runs them freely.
        """
        if self.database.dialect != "sqlite":
            return function()
        with self.write_gate:
            return function()

    def busy(self) -> bool:
        """Whether a request arrived within the last ``worker_quiet_s`` seconds."""
        return time.monotonic() - self.last_request_at < self.settings.worker_quiet_s

    def nudge_worker(self) -> None:
        """Wake the media worker: new files are waiting."""
        if self.worker is not None:
            self.worker.wake.set()


def app_state(request: Request) -> AppState:
    """The state of the app serving ``request``."""
    state: AppState = request.app.state.veille
    return state

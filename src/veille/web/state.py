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
from veille.store.raw import AsyncPgPool
from veille.web.peers import Network

T = TypeVar("T")


class IdleCpu:
    """The share of the machine's CPU time left idle (Linux's /proc/stat), or spent by
    processes at a lowered priority, over the last closed window of a second or more.

    The share is measured over windows of at least ``window_s`` seconds (from
    one call to the first call after the window has passed) and stays the
    same until the next window closes. A shorter window misleads:
    the kernel counts CPU time in ticks of 10 ms, so a 50 ms window on two
    cores holds ten ticks, and under full load short idle gaps (requests
    waiting on PostgreSQL) often make a quarter of them idle. Measured here:
    with 50 ms windows the media worker hashed 39 files/s during a load that
    kept the machine busy, and intake fell from about 180 to 135 reports/s.
    """

    def __init__(
        self,
        path: str = "/proc/stat",
        window_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.window_s = window_s
        self.clock = clock
        self._since = clock()
        self._last = self._read()
        self._share: float | None = None

    def _read(self) -> tuple[int, int] | None:
        try:
            with open(self.path) as stream:
                fields = [int(value) for value in stream.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal (guest time is inside user).
        # Time of processes at a lowered priority (nice), such as the worker's own
        # hashing process, counts as idle: requests would get it at once.
        return fields[1] + fields[3] + fields[4], sum(fields[:8])

    def share(self) -> float | None:
        """Idle share over the last closed window; None where /proc/stat cannot be read.

        Before the first window closes the share is unknown and also None.
        """
        if self.clock() - self._since < self.window_s:
            return self._share
        now = self._read()
        if now is None or self._last is None:
            return None
        (idle, total), (last_idle, last_total) = now, self._last
        if total > last_total:  # else no clock tick since: keep the last share
            self._since, self._last = self.clock(), now
            self._share = (idle - last_idle) / (total - last_total)
        return self._share


@dataclass
class AppState:
    """Shared by the routes of one app."""

    database: Database
    settings: IntakeSettings
    worker: MediaWorker | None = None
    # PostgreSQL: asynchronous connections for the ESP API's hot calls, while the app is served.
    pg: AsyncPgPool | None = None
    write_gate: threading.Lock = field(default_factory=threading.Lock)
    # time.monotonic() of the latest request, for the media worker's "is the server busy?"
    last_request_at: float = 0.0
    cpu_idle: IdleCpu = field(default_factory=lambda: IdleCpu())
    # VEILLE_TRUSTED_PROXIES, parsed once: the only peers whose X-Forwarded-For is believed.
    trusted_proxies: tuple[Network, ...] = ()

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
        """Whether requests keep this server (or another process the machine) busy.

        True when a request arrived within the last ``worker_quiet_s`` seconds,
        or when less than ``worker_min_idle_cpu`` of the machine's CPU time was
        idle over the last closed window of a second or more (:class:`IdleCpu`): with several server processes, or
        PostgreSQL on the same machine, one process may see no request while
        the cores are taken.
        """
        if time.monotonic() - self.last_request_at < self.settings.worker_quiet_s:
            return True
        idle = self.cpu_idle.share()
        return idle is not None and idle < self.settings.worker_min_idle_cpu

    def nudge_worker(self) -> None:
        """Wake the media worker: new files are waiting."""
        if self.worker is not None:
            self.worker.wake.set()


def app_state(request: Request) -> AppState:
    """The state of the app serving ``request``."""
    state: AppState = request.app.state.veille
    return state

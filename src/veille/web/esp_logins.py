"""ESP Basic-auth logins for ``/ispws``: throttled, off the event loop, a few at a time.

:mod:`veille.intake.login_guard` keeps the shared counts; this module puts
it in front of the password check. An attempt first asks whether its address
or user name is blocked (one indexed read); only if not does it wait for one
of ``esp_login_concurrent_checks`` slots and compute scrypt in a worker
thread. Waiting for a slot holds no thread, so guessing clients cannot take
the threads that other providers' calls run in, nor more than that many
cores.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from veille.intake.credentials import Principal, check_esp_password
from veille.intake.login_guard import Keys, LoginGuardStore
from veille.web.protection import RATE_LIMIT_SECRET_NAME, shared_secret
from veille.web.state import AppState


@dataclass(frozen=True)
class Throttled:
    """A refused login; ``retry_after_s`` > 0 when it was blocked without being checked."""

    retry_after_s: int = 0


class EspLogins:
    """The login checks of one app (one database and its settings)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._store: LoginGuardStore | None = None
        self._store_lock = threading.Lock()
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def store(self) -> LoginGuardStore:
        """The shared counts (reads or creates the key secret once)."""
        with self._store_lock:
            if self._store is None:
                database = self.state.database
                secret = shared_secret(database, RATE_LIMIT_SECRET_NAME)
                self._store = LoginGuardStore(database, secret, self.state.settings)
            return self._store

    async def check(self, username: str, password: str, address: str) -> Principal | Throttled:
        """The principal of a correct login from ``address``; else why it is refused."""
        store = await run_in_threadpool(self.store)
        keys = store.keys(username, address)
        wait = await run_in_threadpool(store.wait_s, keys)
        if wait:
            return Throttled(wait)
        async with self._slots_of_this_loop():
            return await run_in_threadpool(self._check, store, keys, username, password, address)

    def _slots_of_this_loop(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; tests run an app on several in turn.
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = asyncio.Semaphore(self.state.settings.esp_login_concurrent_checks)
            self._slots[loop] = slots
        return slots

    def _check(
        self, store: LoginGuardStore, keys: Keys, username: str, password: str, address: str
    ) -> Principal | Throttled:
        with self.state.database.session() as session:
            checked = check_esp_password(session, username, password)
        if checked.principal is None:
            store.failed(keys, username, address, checked.agency_id)
            return Throttled()
        store.succeeded(keys)
        return checked.principal


# By the identity of the app's state (a dataclass, unhashable); a few apps at most live
# in one process (tests make one per test, hence the bound).
_LOGINS: dict[int, EspLogins] = {}
_LOGINS_LOCK = threading.Lock()


def logins(state: AppState) -> EspLogins:
    """The :class:`EspLogins` of the app whose state this is."""
    with _LOGINS_LOCK:
        found = _LOGINS.get(id(state))
        if found is None or found.state is not state:
            if len(_LOGINS) >= 64:
                _LOGINS.clear()
            found = _LOGINS[id(state)] = EspLogins(state)
        return found

"""ESP Basic-auth logins for ``/ispws``: throttled, off the event loop, a few at a time.

:mod:`veille.intake.login_guard` keeps the shared counts; this module puts
it in front of the password check. An attempt first asks whether it is
blocked (one indexed read, in a worker thread); only if not does it wait for
one of ``esp_login_concurrent_checks`` slots and compute scrypt in a worker
thread. Waiting for a slot holds no thread, so guessing clients cannot take
the threads that other providers' calls run in, nor more than that many
cores.

Once the database has said that a key is blocked until T, this process
remembers it (at most :data:`BLOCKS_REMEMBERED` keys, least recently used
first out) and refuses the key's further attempts until T on the event loop,
without a worker thread or a query. A blocked address or user name is
remembered with the trusted pairs under it, which its block does not apply
to: their attempts still ask the database. Other processes learn of a block
from the database, as before.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from veille.intake.credentials import Principal, check_esp_password
from veille.intake.login_guard import Block, Keys, LoginGuardStore
from veille.web.protection import RATE_LIMIT_SECRET_NAME, shared_secret
from veille.web.state import AppState


@dataclass(frozen=True)
class Throttled:
    """A refused login; ``retry_after_s`` > 0 when it was blocked without being checked."""

    retry_after_s: int = 0


BLOCKS_REMEMBERED = 10_000


class RememberedBlocks:
    """Keys the database said are blocked, until when: a bounded LRU map, thread-safe."""

    def __init__(self, limit: int = BLOCKS_REMEMBERED) -> None:
        self.limit = limit
        self._blocks: OrderedDict[str, Block] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._blocks)

    def remember(self, blocks: tuple[Block, ...]) -> None:
        with self._lock:
            for block in blocks:
                self._blocks[block.key] = block
                self._blocks.move_to_end(block.key)
            while len(self._blocks) > self.limit:
                self._blocks.popitem(last=False)

    def wait_s(self, keys: Keys, now: datetime) -> int:
        """Seconds the attempt is known to be blocked for (0: ask the database)."""
        with self._lock:
            pair = self._live(keys.pair, now)
            if pair is not None:
                # Remembered only while the pair is trusted, where its own block applies.
                return _seconds(pair.until, now)
            blocks = [b for k in (keys.address, keys.user) if (b := self._live(k, now))]
        if any(b.trusted is not None and keys.trusted in b.trusted for b in blocks):
            return 0  # a trusted pair: neither block applies; its own is in the database
        known = [b for b in blocks if b.trusted is not None]
        if not known:
            return 0  # no block, or whether the pair is trusted is not known here
        # Not trusted, so the address's block and the user name's both apply.
        return _seconds(max(b.until for b in blocks), now)

    def _live(self, key: str, now: datetime) -> Block | None:
        block = self._blocks.get(key)
        if block is None:
            return None
        if block.until <= now:
            del self._blocks[key]
            return None
        self._blocks.move_to_end(key)
        return block


def _seconds(until: datetime, now: datetime) -> int:
    return int((until - now).total_seconds()) + 1


class EspLogins:
    """The login checks of one app (one database and its settings)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._store: LoginGuardStore | None = None
        self._store_lock = threading.Lock()
        self.blocks = RememberedBlocks()
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
        store = self._store
        if store is None:  # the first login reads or creates the key secret
            store = await run_in_threadpool(self.store)
        keys = store.keys(username, address)
        remembered = self.blocks.wait_s(keys, store.now())
        if remembered:
            return Throttled(remembered)
        verdict = await run_in_threadpool(store.verdict, keys)
        self.blocks.remember(verdict.blocks)
        if verdict.wait_s:
            return Throttled(verdict.wait_s)
        async with self._slots_of_this_loop():
            return await run_in_threadpool(
                self._check, store, keys, verdict.trusted, username, password, address
            )

    def _slots_of_this_loop(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; tests run an app on several in turn.
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = asyncio.Semaphore(self.state.settings.esp_login_concurrent_checks)
            self._slots[loop] = slots
        return slots

    def _check(
        self,
        store: LoginGuardStore,
        keys: Keys,
        trusted: bool,
        username: str,
        password: str,
        address: str,
    ) -> Principal | Throttled:
        with self.state.database.session() as session:
            checked = check_esp_password(session, username, password)
        if checked.principal is None:
            store.failed(keys, username, address, checked.agency_id, trusted=trusted)
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
